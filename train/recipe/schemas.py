"""Three small schemas written for the recipe (a shop, an events venue, a staff register) and their rows.

No training file uses a date function (``select: [date]`` finds none), so the base writes MySQL's
``YEAR(d)`` on SQLite and the engine rewrites it with a rule. These schemas hold the dates, timestamps
and text the dialect templates (:mod:`.dialects`) query. They are the recipe's own: no evaluation
database's tables. The context a row shows is rendered by the engine's own code
(:func:`sqlchat.schema.context.render_context`) from the types reflection reports, so it is the text
the engine sends for such a database on any of the three servers.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlchat.schema.context import render_context
from sqlchat.schema.model import Column, Table

# A column's type as reflection simplifies it (what the context shows) -> the DDL type per dialect.
DDL_TYPES = {
    "INTEGER": {"sqlite": "INTEGER", "postgresql": "INTEGER", "mariadb": "INTEGER"},
    "VARCHAR": {"sqlite": "VARCHAR(80)", "postgresql": "VARCHAR(80)", "mariadb": "VARCHAR(80)"},
    "REAL": {"sqlite": "REAL", "postgresql": "REAL", "mariadb": "DOUBLE"},
    "DATE": {"sqlite": "DATE", "postgresql": "DATE", "mariadb": "DATE"},
    "DATETIME": {"sqlite": "DATETIME", "postgresql": "TIMESTAMP", "mariadb": "DATETIME"},
}
DIALECTS = ("sqlite", "postgresql", "mariadb")


@dataclass(frozen=True)
class Schema:
    """A schema the templates query: its tables (name -> [(column, simplified type)]) and rows per table."""

    name: str
    tables: dict[str, list[tuple[str, str]]]

    def context(self) -> str:
        """The ``CREATE TABLE`` context the engine renders for this schema (no key clauses, its default; tables in
        the order reflection lists them, by name)."""
        return render_context([Table(name, [Column(c, kind) for c, kind in columns])
                               for name, columns in sorted(self.tables.items())], keys=False)

    def ddl(self, dialect: str) -> list[str]:
        """``CREATE TABLE`` statements for ``dialect``."""
        return [f"CREATE TABLE {name} ({', '.join(f'{c} {DDL_TYPES[kind][dialect]}' for c, kind in columns)})"
                for name, columns in self.tables.items()]


SHOP = Schema("shop", {
    "customers": [("customer_id", "INTEGER"), ("first_name", "VARCHAR"), ("last_name", "VARCHAR"), ("email", "VARCHAR"),
                  ("city", "VARCHAR"), ("signup_date", "DATE")],
    "orders": [("order_id", "INTEGER"), ("customer_id", "INTEGER"), ("order_date", "DATE"), ("shipped_date", "DATE"),
               ("status", "VARCHAR"), ("amount", "REAL")],
})
VENUE = Schema("venue", {
    "venues": [("venue_id", "INTEGER"), ("name", "VARCHAR"), ("city", "VARCHAR"), ("capacity", "INTEGER")],
    "events": [("event_id", "INTEGER"), ("venue_id", "INTEGER"), ("title", "VARCHAR"), ("category", "VARCHAR"),
               ("starts_at", "DATETIME"), ("ends_at", "DATETIME"), ("tickets_sold", "INTEGER")],
})
STAFF = Schema("staff", {
    "people": [("person_id", "INTEGER"), ("first_name", "VARCHAR"), ("last_name", "VARCHAR"), ("birth_date", "DATE"),
               ("hire_date", "DATE"), ("department", "VARCHAR"), ("salary", "REAL")],
    "trainings": [("training_id", "INTEGER"), ("person_id", "INTEGER"), ("course", "VARCHAR"), ("taken_on", "DATE"),
                  ("score", "INTEGER")],
})
SCHEMAS = {schema.name: schema for schema in (SHOP, VENUE, STAFF)}

FIRST = "Ana Ben Carla Dev Elif Farid Grace Hugo Ines Jon Kaori Liam Mei Nora Omar Pia Quinn Rosa Sam Tariq Uma Vik".split()
LAST = "Alvarez Brooks Chen Dubois Eriksen Fischer Garcia Haddad Ito Jensen Kowalski Lopez Moreau Novak Okafor Patel".split()
CITIES = ["Lisbon", "Austin", "Leeds", "Osaka", "Porto", "Denver", "Lyon", "Graz"]
DOMAINS = ["example.com", "mail.net", "post.org"]
STATUSES = ["pending", "shipped", "delivered", "cancelled"]
CATEGORIES = ["concert", "talk", "workshop", "film", "comedy"]
DEPARTMENTS = ["Sales", "Finance", "Support", "Engineering", "Legal"]
COURSES = ["First aid", "Negotiation", "SQL basics", "Fire safety", "Leadership"]
FIRST_DAY = dt.date(2022, 1, 1)


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, max(0, (end - start).days)))


def rows_for(schema: Schema, today: dt.date, seed: int = 7) -> dict[str, list[tuple]]:
    """A few dozen rows per table, seeded, spread from 2022 to ``today`` (a quarter of them in the last
    90 days, so templates about "the last N days" or "this month" find rows on any day they are checked)."""
    rng = random.Random(seed)

    def when() -> dt.date:
        return _day(rng, today - dt.timedelta(days=90), today) if rng.random() < 0.25 else _day(rng, FIRST_DAY, today)

    if schema is SHOP:
        customers = [(i, rng.choice(FIRST), rng.choice(LAST), f"user{i}@{rng.choice(DOMAINS)}", rng.choice(CITIES), when())
                     for i in range(1, 61)]
        orders = []
        for i in range(1, 401):
            ordered = when()
            status = rng.choice(STATUSES)
            shipped = None if status in ("pending", "cancelled") else ordered + dt.timedelta(days=rng.randint(0, 10))
            orders.append((i, rng.randint(1, 60), ordered, shipped, status, round(rng.uniform(5, 500), 2)))
        return {"customers": customers, "orders": orders}
    if schema is VENUE:
        venues = [(i, f"{city} Hall", city, rng.choice([200, 500, 1200, 3000])) for i, city in enumerate(CITIES, 1)]
        events = []
        for i in range(1, 201):
            start = dt.datetime.combine(when(), dt.time(rng.randint(9, 21), rng.choice([0, 30])))
            events.append((i, rng.randint(1, len(CITIES)), f"{rng.choice(CATEGORIES).title()} night {i}",
                           rng.choice(CATEGORIES), start, start + dt.timedelta(minutes=rng.choice([60, 90, 120, 180, 240, 330])),
                           rng.randint(20, 900)))
        return {"venues": venues, "events": events}
    people = []
    for i in range(1, 61):
        born = _day(rng, dt.date(1960, 1, 1), dt.date(2002, 12, 31))
        if i % 6 == 0:  # some birthdays in the current month
            born = born.replace(month=today.month, day=min(born.day, 28))
        people.append((i, rng.choice(FIRST), rng.choice(LAST), born, when(), rng.choice(DEPARTMENTS),
                       float(rng.randrange(30000, 120000, 500))))
    trainings = []
    for i in range(1, 151):
        person = rng.choice(people)
        trainings.append((i, person[0], rng.choice(COURSES), _day(rng, person[4], min(today, person[4] + dt.timedelta(days=400))),
                          rng.randint(40, 100)))
    return {"people": people, "trainings": trainings}


def literal(value: object) -> str:
    """A value as a SQL literal all three dialects read (dates and timestamps as ISO strings)."""
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"'{value:%Y-%m-%d %H:%M:%S}'"
    return "'" + str(value).replace("'", "''") + "'"


def inserts(schema: Schema, today: dt.date) -> list[str]:
    """``INSERT`` statements (one per table, many rows) filling ``schema``."""
    return [f"INSERT INTO {table} VALUES " + ", ".join("(" + ", ".join(map(literal, row)) + ")" for row in rows)
            for table, rows in rows_for(schema, today).items()]
