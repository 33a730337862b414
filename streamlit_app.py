"""sqlchat in the browser: connect a database, ask in plain English, see the SQL and the answer.

The page's parts live in :mod:`sqlchat.ui` (sidebar and connections, the conversation, the answer
card, the schema browser, the history page); this file only starts it.

Run with: ``streamlit run streamlit_app.py``
"""

from sqlchat.ui.page import main

main()
