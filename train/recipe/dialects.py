"""Template rows that teach each dialect's date and string functions.

One question, three gold answers: SQLite (``strftime``, ``julianday``, ``date(d, '+N day')``, ``||``,
``substr``), PostgreSQL (``EXTRACT``, ``date_trunc``, ``INTERVAL``, ``::date``, ``||``) and MariaDB
(``YEAR()``, ``DATE_FORMAT``, ``DATEDIFF``, ``CONCAT``, ``DATE_SUB``). The engine's prompt does not say
which database it is talking to (``sqlchat.prompt`` has no dialect line and the context is the same on
every server), so only the SQLite answers can go into the training mix as they are; the PostgreSQL and
MariaDB rows are written to a separate file (checked the same way) for a recipe whose prompt names the
dialect. Every row is executed on its server before it is kept (:mod:`.execute`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .rows import Row
from .schemas import CATEGORIES, CITIES, DOMAINS, SCHEMAS, STATUSES

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
YEARS = [2022, 2023, 2024, 2025]
PER_TEMPLATE = 12  # instantiations tried per template (fewer when its slots have fewer values)

Slots = Callable[[random.Random], dict]


@dataclass(frozen=True)
class Template:
    """A question over one schema with its gold SQL per dialect; ``slots`` draws the values it is filled with."""

    name: str
    schema: str
    question: str
    sql: dict[str, str]  # dialect -> SQL with {slots}
    slots: Slots = lambda rng: {}

    def instances(self, rng: random.Random, count: int = PER_TEMPLATE) -> Iterator[dict]:
        """Up to ``count`` distinct slot fillings (seeded)."""
        seen: set[str] = set()
        for _ in range(count * 4):
            values = self.slots(rng)
            question = self.question.format(**values)
            if question not in seen:
                seen.add(question)
                yield values
                if len(seen) == count:
                    return


def _year(rng: random.Random) -> dict:
    return {"year": rng.choice(YEARS)}


def _month_year(rng: random.Random) -> dict:
    month = rng.randint(1, 12)
    return {"year": rng.choice(YEARS[:3]), "month": month, "mm": f"{month:02d}", "month_name": MONTHS[month - 1]}


def _month(rng: random.Random) -> dict:
    month = rng.randint(1, 12)
    return {"month": month, "mm": f"{month:02d}", "month_name": MONTHS[month - 1]}


def _day_text(rng: random.Random) -> dict:
    year, month, day = rng.choice(YEARS[:3]), rng.randint(1, 12), rng.randint(1, 28)
    return {"date": f"{year}-{month:02d}-{day:02d}", "date_text": f"{MONTHS[month - 1]} {day}, {year}", "year": year}


def _pick(**choices: list) -> Slots:
    return lambda rng: {name: rng.choice(values) for name, values in choices.items()}


def _with(*makers: Slots) -> Slots:
    def slots(rng: random.Random) -> dict:
        values: dict = {}
        for maker in makers:
            values.update(maker(rng))
        return values
    return slots


def _weekday(rng: random.Random) -> dict:
    index = rng.randrange(7)
    return {"weekday": WEEKDAYS[index], "dow": index, "mysql_dow": index + 1}


def _t(name: str, schema: str, question: str, sqlite: str, postgresql: str, mariadb: str, slots: Slots = lambda rng: {}) -> Template:
    return Template(name, schema, question, {"sqlite": sqlite, "postgresql": postgresql, "mariadb": mariadb}, slots)


TEMPLATES: tuple[Template, ...] = (
    # --- shop: orders and customers
    _t("orders_in_year", "shop", "How many orders were placed in {year}?",
       "SELECT COUNT(*) FROM orders WHERE strftime('%Y', order_date) = '{year}'",
       "SELECT COUNT(*) FROM orders WHERE EXTRACT(YEAR FROM order_date) = {year}",
       "SELECT COUNT(*) FROM orders WHERE YEAR(order_date) = {year}", _year),
    _t("orders_in_month", "shop", "List the id and amount of the orders placed in {month_name} {year}.",
       "SELECT order_id, amount FROM orders WHERE strftime('%Y-%m', order_date) = '{year}-{mm}'",
       "SELECT order_id, amount FROM orders WHERE date_trunc('month', order_date) = DATE '{year}-{mm}-01'",
       "SELECT order_id, amount FROM orders WHERE DATE_FORMAT(order_date, '%Y-%m') = '{year}-{mm}'", _month_year),
    _t("amount_per_month", "shop", "What was the total order amount for each month of {year}?",
       "SELECT strftime('%m', order_date) AS month, SUM(amount) FROM orders WHERE strftime('%Y', order_date) = '{year}' GROUP BY month ORDER BY month",
       "SELECT EXTRACT(MONTH FROM order_date) AS month, SUM(amount) FROM orders WHERE EXTRACT(YEAR FROM order_date) = {year} GROUP BY month ORDER BY month",
       "SELECT MONTH(order_date) AS month, SUM(amount) FROM orders WHERE YEAR(order_date) = {year} GROUP BY month ORDER BY month", _year),
    _t("amount_per_quarter", "shop", "What was the total amount of {status} orders in each quarter of {year}?",
       "SELECT (CAST(strftime('%m', order_date) AS INTEGER) + 2) / 3 AS quarter, SUM(amount) FROM orders WHERE status = '{status}' AND strftime('%Y', order_date) = '{year}' GROUP BY quarter ORDER BY quarter",
       "SELECT EXTRACT(QUARTER FROM order_date) AS quarter, SUM(amount) FROM orders WHERE status = '{status}' AND EXTRACT(YEAR FROM order_date) = {year} GROUP BY quarter ORDER BY quarter",
       "SELECT QUARTER(order_date) AS quarter, SUM(amount) FROM orders WHERE status = '{status}' AND YEAR(order_date) = {year} GROUP BY quarter ORDER BY quarter",
       _with(_year, _pick(status=STATUSES))),
    _t("monthly_revenue", "shop", "Show the total amount of {status} orders per month.",
       "SELECT strftime('%Y-%m', order_date) AS month, SUM(amount) FROM orders WHERE status = '{status}' GROUP BY month ORDER BY month",
       "SELECT date_trunc('month', order_date)::date AS month, SUM(amount) FROM orders WHERE status = '{status}' GROUP BY month ORDER BY month",
       "SELECT DATE_FORMAT(order_date, '%Y-%m') AS month, SUM(amount) FROM orders WHERE status = '{status}' GROUP BY month ORDER BY month",
       _pick(status=STATUSES)),
    _t("slow_shipping", "shop", "Which orders shipped more than {days} days after they were placed?",
       "SELECT order_id FROM orders WHERE julianday(shipped_date) - julianday(order_date) > {days}",
       "SELECT order_id FROM orders WHERE shipped_date - order_date > {days}",
       "SELECT order_id FROM orders WHERE DATEDIFF(shipped_date, order_date) > {days}", _pick(days=[2, 3, 4, 5, 6, 7, 8])),
    _t("average_shipping", "shop", "On average, how many days did {status} orders take to ship?",
       "SELECT AVG(julianday(shipped_date) - julianday(order_date)) FROM orders WHERE status = '{status}'",
       "SELECT AVG(shipped_date - order_date) FROM orders WHERE status = '{status}'",
       "SELECT AVG(DATEDIFF(shipped_date, order_date)) FROM orders WHERE status = '{status}'", _pick(status=["shipped", "delivered"])),
    _t("recent_orders", "shop", "Show the orders placed in the last {days} days.",
       "SELECT order_id, order_date, amount FROM orders WHERE order_date >= date('now', '-{days} day')",
       "SELECT order_id, order_date, amount FROM orders WHERE order_date >= CURRENT_DATE - INTERVAL '{days} days'",
       "SELECT order_id, order_date, amount FROM orders WHERE order_date >= DATE_SUB(CURDATE(), INTERVAL {days} DAY)",
       _pick(days=[7, 14, 30, 45, 60, 90])),
    _t("orders_before_day", "shop", "How many orders were placed in the {days} days up to {date_text}?",
       "SELECT COUNT(*) FROM orders WHERE order_date BETWEEN date('{date}', '-{days} day') AND '{date}'",
       "SELECT COUNT(*) FROM orders WHERE order_date BETWEEN DATE '{date}' - INTERVAL '{days} days' AND DATE '{date}'",
       "SELECT COUNT(*) FROM orders WHERE order_date BETWEEN DATE_SUB('{date}', INTERVAL {days} DAY) AND '{date}'",
       _with(_day_text, _pick(days=[30, 60, 90]))),
    _t("due_dates", "shop", "For each {status} order, show its id and the date {days} days after it was placed.",
       "SELECT order_id, date(order_date, '+{days} day') FROM orders WHERE status = '{status}'",
       "SELECT order_id, (order_date + INTERVAL '{days} days')::date FROM orders WHERE status = '{status}'",
       "SELECT order_id, DATE_ADD(order_date, INTERVAL {days} DAY) FROM orders WHERE status = '{status}'",
       _pick(status=["pending", "shipped"], days=[3, 5, 7, 10, 14])),
    _t("customers_full_name", "shop", "Give the full names of the customers who signed up in {year}.",
       "SELECT first_name || ' ' || last_name FROM customers WHERE strftime('%Y', signup_date) = '{year}'",
       "SELECT first_name || ' ' || last_name FROM customers WHERE EXTRACT(YEAR FROM signup_date) = {year}",
       "SELECT CONCAT(first_name, ' ', last_name) FROM customers WHERE YEAR(signup_date) = {year}", _year),
    _t("last_name_initial", "shop", "Which customers have a last name starting with {letter}?",
       "SELECT first_name, last_name FROM customers WHERE substr(last_name, 1, 1) = '{letter}'",
       "SELECT first_name, last_name FROM customers WHERE LEFT(last_name, 1) = '{letter}'",
       "SELECT first_name, last_name FROM customers WHERE LEFT(last_name, 1) = '{letter}'", _pick(letter=list("ABCDEFGHIJKLMNOP"))),
    _t("email_domain", "shop", "List the customers whose email address is at {domain}.",
       "SELECT first_name, last_name FROM customers WHERE substr(email, instr(email, '@') + 1) = '{domain}'",
       "SELECT first_name, last_name FROM customers WHERE split_part(email, '@', 2) = '{domain}'",
       "SELECT first_name, last_name FROM customers WHERE SUBSTRING_INDEX(email, '@', -1) = '{domain}'", _pick(domain=DOMAINS)),
    _t("signups_per_year", "shop", "How many customers from {city} signed up each year?",
       "SELECT strftime('%Y', signup_date) AS year, COUNT(*) FROM customers WHERE city = '{city}' GROUP BY year ORDER BY year",
       "SELECT EXTRACT(YEAR FROM signup_date) AS year, COUNT(*) FROM customers WHERE city = '{city}' GROUP BY year ORDER BY year",
       "SELECT YEAR(signup_date) AS year, COUNT(*) FROM customers WHERE city = '{city}' GROUP BY year ORDER BY year", _pick(city=CITIES)),
    _t("city_spend", "shop", "How much did each customer from {city} spend in {year}?",
       "SELECT c.first_name, c.last_name, SUM(o.amount) FROM customers AS c JOIN orders AS o ON o.customer_id = c.customer_id WHERE c.city = '{city}' AND strftime('%Y', o.order_date) = '{year}' GROUP BY c.customer_id, c.first_name, c.last_name",
       "SELECT c.first_name, c.last_name, SUM(o.amount) FROM customers AS c JOIN orders AS o ON o.customer_id = c.customer_id WHERE c.city = '{city}' AND EXTRACT(YEAR FROM o.order_date) = {year} GROUP BY c.customer_id, c.first_name, c.last_name",
       "SELECT c.first_name, c.last_name, SUM(o.amount) FROM customers AS c JOIN orders AS o ON o.customer_id = c.customer_id WHERE c.city = '{city}' AND YEAR(o.order_date) = {year} GROUP BY c.customer_id, c.first_name, c.last_name",
       _with(_year, _pick(city=CITIES))),
    # --- venue: events with timestamps
    _t("events_on_weekday", "venue", "Which events start on a {weekday}?",
       "SELECT title, starts_at FROM events WHERE strftime('%w', starts_at) = '{dow}'",
       "SELECT title, starts_at FROM events WHERE EXTRACT(DOW FROM starts_at) = {dow}",
       "SELECT title, starts_at FROM events WHERE DAYOFWEEK(starts_at) = {mysql_dow}", _weekday),
    _t("events_in_city_month", "venue", "What events took place in {city} in {month_name} {year}?",
       "SELECT e.title, e.starts_at FROM events AS e JOIN venues AS v ON v.venue_id = e.venue_id WHERE v.city = '{city}' AND strftime('%Y-%m', e.starts_at) = '{year}-{mm}'",
       "SELECT e.title, e.starts_at FROM events AS e JOIN venues AS v ON v.venue_id = e.venue_id WHERE v.city = '{city}' AND date_trunc('month', e.starts_at) = DATE '{year}-{mm}-01'",
       "SELECT e.title, e.starts_at FROM events AS e JOIN venues AS v ON v.venue_id = e.venue_id WHERE v.city = '{city}' AND DATE_FORMAT(e.starts_at, '%Y-%m') = '{year}-{mm}'",
       _with(_month_year, _pick(city=CITIES))),
    _t("long_events", "venue", "Which events last longer than {hours} hours?",
       "SELECT title FROM events WHERE (julianday(ends_at) - julianday(starts_at)) * 24 > {hours}",
       "SELECT title FROM events WHERE EXTRACT(EPOCH FROM ends_at - starts_at) / 3600 > {hours}",
       "SELECT title FROM events WHERE TIMESTAMPDIFF(MINUTE, starts_at, ends_at) / 60 > {hours}", _pick(hours=[1, 2, 3, 4, 5])),
    _t("late_events", "venue", "List the {category} events that start at {hour}:00 or later.",
       "SELECT title, starts_at FROM events WHERE category = '{category}' AND CAST(strftime('%H', starts_at) AS INTEGER) >= {hour}",
       "SELECT title, starts_at FROM events WHERE category = '{category}' AND EXTRACT(HOUR FROM starts_at) >= {hour}",
       "SELECT title, starts_at FROM events WHERE category = '{category}' AND HOUR(starts_at) >= {hour}",
       _pick(category=CATEGORIES, hour=[17, 18, 19, 20])),
    _t("events_per_category", "venue", "How many events of each category were held in {year}?",
       "SELECT category, COUNT(*) FROM events WHERE strftime('%Y', starts_at) = '{year}' GROUP BY category",
       "SELECT category, COUNT(*) FROM events WHERE EXTRACT(YEAR FROM starts_at) = {year} GROUP BY category",
       "SELECT category, COUNT(*) FROM events WHERE YEAR(starts_at) = {year} GROUP BY category", _year),
    _t("events_on_date", "venue", "Which events started on or after {date_text}, and on which day?",
       "SELECT title, date(starts_at) FROM events WHERE date(starts_at) >= '{date}'",
       "SELECT title, starts_at::date FROM events WHERE starts_at::date >= DATE '{date}'",
       "SELECT title, DATE(starts_at) FROM events WHERE DATE(starts_at) >= '{date}'", _day_text),
    _t("event_labels", "venue", "List each {category} event as its title followed by its venue's city in parentheses.",
       "SELECT e.title || ' (' || v.city || ')' FROM events AS e JOIN venues AS v ON v.venue_id = e.venue_id WHERE e.category = '{category}'",
       "SELECT e.title || ' (' || v.city || ')' FROM events AS e JOIN venues AS v ON v.venue_id = e.venue_id WHERE e.category = '{category}'",
       "SELECT CONCAT(e.title, ' (', v.city, ')') FROM events AS e JOIN venues AS v ON v.venue_id = e.venue_id WHERE e.category = '{category}'",
       _pick(category=CATEGORIES)),
    _t("tickets_per_month", "venue", "How many tickets were sold per month for {category} events?",
       "SELECT strftime('%Y-%m', starts_at) AS month, SUM(tickets_sold) FROM events WHERE category = '{category}' GROUP BY month ORDER BY month",
       "SELECT date_trunc('month', starts_at)::date AS month, SUM(tickets_sold) FROM events WHERE category = '{category}' GROUP BY month ORDER BY month",
       "SELECT DATE_FORMAT(starts_at, '%Y-%m') AS month, SUM(tickets_sold) FROM events WHERE category = '{category}' GROUP BY month ORDER BY month",
       _pick(category=CATEGORIES)),
    # --- staff: people and trainings
    _t("older_than", "staff", "Which people in {department} are at least {age} years old?",
       "SELECT first_name, last_name FROM people WHERE department = '{department}' AND birth_date <= date('now', '-{age} years')",
       "SELECT first_name, last_name FROM people WHERE department = '{department}' AND birth_date <= CURRENT_DATE - INTERVAL '{age} years'",
       "SELECT first_name, last_name FROM people WHERE department = '{department}' AND birth_date <= DATE_SUB(CURDATE(), INTERVAL {age} YEAR)",
       _pick(department=["Sales", "Finance", "Support", "Engineering", "Legal"], age=[30, 40, 50])),
    _t("hired_in_year", "staff", "Who joined the {department} department in {year}?",
       "SELECT first_name, last_name FROM people WHERE department = '{department}' AND strftime('%Y', hire_date) = '{year}'",
       "SELECT first_name, last_name FROM people WHERE department = '{department}' AND EXTRACT(YEAR FROM hire_date) = {year}",
       "SELECT first_name, last_name FROM people WHERE department = '{department}' AND YEAR(hire_date) = {year}",
       _with(_year, _pick(department=["Sales", "Finance", "Support", "Engineering", "Legal"]))),
    _t("years_of_service", "staff", "List the people of {department} with the number of full years since they were hired.",
       "SELECT first_name, last_name, CAST((julianday('now') - julianday(hire_date)) / 365.25 AS INTEGER) FROM people WHERE department = '{department}'",
       "SELECT first_name, last_name, EXTRACT(YEAR FROM age(CURRENT_DATE, hire_date)) FROM people WHERE department = '{department}'",
       "SELECT first_name, last_name, TIMESTAMPDIFF(YEAR, hire_date, CURDATE()) FROM people WHERE department = '{department}'",
       _pick(department=["Sales", "Finance", "Support", "Engineering", "Legal"])),
    _t("hired_in_month", "staff", "Which people were hired in {month_name}, in any year?",
       "SELECT first_name, last_name, hire_date FROM people WHERE strftime('%m', hire_date) = '{mm}'",
       "SELECT first_name, last_name, hire_date FROM people WHERE EXTRACT(MONTH FROM hire_date) = {month}",
       "SELECT first_name, last_name, hire_date FROM people WHERE MONTH(hire_date) = {month}", _month),
    _t("birthdays_this_month", "staff", "Whose birthday is in the current month?",
       "SELECT first_name, last_name, birth_date FROM people WHERE strftime('%m', birth_date) = strftime('%m', 'now')",
       "SELECT first_name, last_name, birth_date FROM people WHERE EXTRACT(MONTH FROM birth_date) = EXTRACT(MONTH FROM CURRENT_DATE)",
       "SELECT first_name, last_name, birth_date FROM people WHERE MONTH(birth_date) = MONTH(CURDATE())"),
    _t("initials", "staff", "Show the initials of everyone in {department}.",
       "SELECT substr(first_name, 1, 1) || substr(last_name, 1, 1) FROM people WHERE department = '{department}'",
       "SELECT LEFT(first_name, 1) || LEFT(last_name, 1) FROM people WHERE department = '{department}'",
       "SELECT CONCAT(LEFT(first_name, 1), LEFT(last_name, 1)) FROM people WHERE department = '{department}'",
       _pick(department=["Sales", "Finance", "Support", "Engineering", "Legal"])),
    _t("training_soon_after_hire", "staff", "Which people took a training course within {days} days of being hired?",
       "SELECT DISTINCT p.first_name, p.last_name FROM people AS p JOIN trainings AS t ON t.person_id = p.person_id WHERE julianday(t.taken_on) - julianday(p.hire_date) <= {days}",
       "SELECT DISTINCT p.first_name, p.last_name FROM people AS p JOIN trainings AS t ON t.person_id = p.person_id WHERE t.taken_on - p.hire_date <= {days}",
       "SELECT DISTINCT p.first_name, p.last_name FROM people AS p JOIN trainings AS t ON t.person_id = p.person_id WHERE DATEDIFF(t.taken_on, p.hire_date) <= {days}",
       _pick(days=[30, 60, 90, 120])),
    _t("score_per_course", "staff", "What was the average score of each course in {year}?",
       "SELECT course, AVG(score) FROM trainings WHERE strftime('%Y', taken_on) = '{year}' GROUP BY course",
       "SELECT course, AVG(score) FROM trainings WHERE EXTRACT(YEAR FROM taken_on) = {year} GROUP BY course",
       "SELECT course, AVG(score) FROM trainings WHERE YEAR(taken_on) = {year} GROUP BY course", _year),
    _t("training_month_start", "staff", "For each {course} training, show the first day of the month it was taken in.",
       "SELECT training_id, date(taken_on, 'start of month') FROM trainings WHERE course = '{course}'",
       "SELECT training_id, date_trunc('month', taken_on)::date FROM trainings WHERE course = '{course}'",
       "SELECT training_id, DATE_FORMAT(taken_on, '%Y-%m-01') FROM trainings WHERE course = '{course}'",
       _pick(course=["First aid", "Negotiation", "SQL basics", "Fire safety", "Leadership"])),
)


def template_rows(dialect: str, seed: int = 0, templates: tuple[Template, ...] = TEMPLATES) -> list[Row]:
    """Every template's instantiations in ``dialect`` (unchecked; :func:`.execute.checked_rows` runs them).
    The slot values depend on ``seed`` and the template only, so the three dialects ask the same questions."""
    rows = []
    for index, template in enumerate(templates):
        context = SCHEMAS[template.schema].context()
        for values in template.instances(random.Random(seed * 1000 + index)):
            rows.append(Row(template.question.format(**values), context, template.sql[dialect].format(**values),
                            f"template:{template.name}", dialect))
    return rows
