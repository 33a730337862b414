"""A small business database (customers, products, orders, order_items) for any SQLAlchemy URL.

Used by connection, schema, safety and end-to-end tests on SQLite, PostgreSQL and MariaDB
alike, so the DDL is portable SQLAlchemy Core and the rows are plain module constants:
tests can compute expected answers from them instead of hard-coding numbers.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

TABLE_NAMES = ("customers", "order_items", "orders", "products")

# (id, name, email, city, country, created_at)
CUSTOMERS = [
    (1, "Ada Lovelace", "ada@example.com", "London", "UK", datetime(2023, 1, 15, 9, 30)),
    (2, "Grace Hopper", "grace@example.com", "New York", "USA", datetime(2023, 2, 3, 14, 0)),
    (3, "Alan Turing", "alan@example.com", "Manchester", "UK", datetime(2023, 3, 22, 8, 45)),
    (4, "Katherine Johnson", "katherine@example.com", "Houston", "USA", datetime(2023, 5, 9, 17, 20)),
    (5, "Émilie du Châtelet", "emilie@example.com", "Paris", "France", datetime(2024, 1, 2, 10, 0)),
    (6, "Marie Curie", "marie@example.com", "Paris", "France", datetime(2024, 2, 11, 11, 15)),
]
# (id, name, category, price)
PRODUCTS = [
    (1, "Laptop", "Electronics", Decimal("1200.00")),
    (2, "Mouse", "Electronics", Decimal("25.50")),
    (3, "Desk", "Furniture", Decimal("350.00")),
    (4, "Chair", "Furniture", Decimal("150.00")),
    (5, "Notebook", "Stationery", Decimal("3.20")),
    (6, "Pen", "Stationery", Decimal("1.10")),
]
# (id, customer_id, order_date, status); total is computed from the items
ORDERS = [
    (1, 1, date(2024, 1, 10), "shipped"),
    (2, 2, date(2024, 1, 12), "shipped"),
    (3, 1, date(2024, 2, 2), "pending"),
    (4, 3, date(2024, 2, 15), "shipped"),
    (5, 4, date(2024, 3, 1), "cancelled"),
    (6, 2, date(2024, 3, 5), "shipped"),
    (7, 5, date(2024, 3, 20), "pending"),
    (8, 1, date(2024, 4, 2), "shipped"),
    (9, 6, date(2024, 7, 14), "shipped"),
]
# (order_id, product_id, quantity, unit_price)
ORDER_ITEMS = [
    (1, 1, 1, Decimal("1200.00")), (1, 2, 2, Decimal("25.50")),
    (2, 3, 1, Decimal("350.00")), (2, 4, 2, Decimal("150.00")),
    (3, 5, 10, Decimal("3.20")), (3, 6, 20, Decimal("1.10")),
    (4, 1, 1, Decimal("1150.00")),
    (5, 4, 4, Decimal("150.00")),
    (6, 2, 1, Decimal("25.50")), (6, 5, 5, Decimal("3.20")),
    (7, 3, 1, Decimal("350.00")), (7, 6, 3, Decimal("1.10")),
    (8, 2, 3, Decimal("24.00")), (8, 4, 1, Decimal("150.00")), (8, 5, 2, Decimal("3.20")),
    (9, 1, 1, Decimal("1199.00")),
]

# What reflection + render_context should show for this schema (the same on every dialect).
EXPECTED_CONTEXT = {
    "customers": "CREATE TABLE customers (id INTEGER, name VARCHAR, email VARCHAR, city VARCHAR, "
                 "country VARCHAR, created_at DATETIME, PRIMARY KEY (id))",
    "order_items": "CREATE TABLE order_items (order_id INTEGER, product_id INTEGER, quantity INTEGER, "
                   "unit_price NUMERIC, PRIMARY KEY (order_id, product_id), "
                   "FOREIGN KEY (order_id) REFERENCES orders(id), "
                   "FOREIGN KEY (product_id) REFERENCES products(id))",
    "orders": "CREATE TABLE orders (id INTEGER, customer_id INTEGER, order_date DATE, status VARCHAR, "
              "total NUMERIC, PRIMARY KEY (id), FOREIGN KEY (customer_id) REFERENCES customers(id))",
    "products": "CREATE TABLE products (id INTEGER, name VARCHAR, category VARCHAR, price NUMERIC, "
                "PRIMARY KEY (id))",
}


def business_metadata() -> sa.MetaData:
    """Portable table definitions (no dialect-specific types)."""
    md = sa.MetaData()
    sa.Table("customers", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("name", sa.String(100), nullable=False),
             sa.Column("email", sa.String(200)),
             sa.Column("city", sa.String(100)),
             sa.Column("country", sa.String(50)),
             sa.Column("created_at", sa.DateTime))
    sa.Table("products", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("name", sa.String(100), nullable=False),
             sa.Column("category", sa.String(50)),
             sa.Column("price", sa.Numeric(10, 2)))
    sa.Table("orders", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
             sa.Column("order_date", sa.Date),
             sa.Column("status", sa.String(20)),
             sa.Column("total", sa.Numeric(10, 2)))
    sa.Table("order_items", md,
             sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id"), primary_key=True, autoincrement=False),
             sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), primary_key=True,
                       autoincrement=False),
             sa.Column("quantity", sa.Integer, nullable=False),
             sa.Column("unit_price", sa.Numeric(10, 2)))
    return md


def order_totals() -> dict[int, Decimal]:
    """Each order's total = sum(quantity * unit_price) of its items (stored in orders.total)."""
    totals: dict[int, Decimal] = {order[0]: Decimal("0.00") for order in ORDERS}
    for order_id, _product, quantity, price in ORDER_ITEMS:
        totals[order_id] += quantity * price
    return totals


def create_business_schema(url: str | sa.URL) -> None:
    """Create the four tables (empty) in the database at ``url``."""
    engine = sa.create_engine(url)
    try:
        business_metadata().create_all(engine)
    finally:
        engine.dispose()


def fill_business_data(url: str | sa.URL) -> None:
    """Insert the module's rows into an existing business schema."""
    md = business_metadata()
    totals = order_totals()
    rows = {
        "customers": [dict(zip(("id", "name", "email", "city", "country", "created_at"), r)) for r in CUSTOMERS],
        "products": [dict(zip(("id", "name", "category", "price"), r)) for r in PRODUCTS],
        "orders": [dict(zip(("id", "customer_id", "order_date", "status"), r), total=totals[r[0]]) for r in ORDERS],
        "order_items": [dict(zip(("order_id", "product_id", "quantity", "unit_price"), r)) for r in ORDER_ITEMS],
    }
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for name in ("customers", "products", "orders", "order_items"):
                conn.execute(md.tables[name].insert(), rows[name])
    finally:
        engine.dispose()


def build_business_db(url: str | sa.URL) -> str:
    """Create and fill the business database at ``url``; returns the URL as a string for chaining."""
    create_business_schema(url)
    fill_business_data(url)
    return url if isinstance(url, str) else url.render_as_string(hide_password=False)


def build_business_sqlite(path) -> str:
    """The business database as a SQLite file at ``path``; returns its path as a string."""
    build_business_db(f"sqlite:///{path}")
    return str(path)
