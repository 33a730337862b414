"""Models: the embedded models and the backends that run them.

``registry`` (the models by short name), ``store`` (assembling a GGUF from its PyPI parts),
``commands`` (``sqlchat models``), ``backends`` (llama.cpp, transformers, OpenAI-compatible HTTP),
``urls`` (a model server's base URL).
Nothing is re-exported here: import from the module.
"""
