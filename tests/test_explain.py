"""The sentences a user reads about an answer's SQL, on the real Chinook and Northwind schemas.

Each case is a shape the engine produces (aggregates, joins, subqueries, set operations, CTEs,
window functions); the assertions are the words a user would rely on: what is counted, the join
path, the filter values, the grouping, "highest 5 first".
"""

from __future__ import annotations

import pytest

from sqlchat.answers.explain import explain, plural, singular, words
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import connect


@pytest.fixture(scope="module")
def northwind_tables():
    from sqlchat.config import DEMO_DIR

    db = connect(DEMO_DIR / "northwind.sqlite")
    yield list(reflect_schema(db))
    db.close()


@pytest.mark.parametrize(("name", "as_words", "many", "one"), [
    ("InvoiceDate", "invoice date", "invoice dates", "invoice date"),
    ("unit_price", "unit price", "unit prices", "unit price"),
    ("Category", "category", "categories", "category"),
    ("Employees", "employees", "employees", "employee"),
    ("InvoiceLine", "invoice line", "invoice lines", "invoice line"),
    ("Order Details", "order details", "order details", "order detail"),
    ("CustomerID", "customer id", "customer ids", "customer id"),
])
def test_schema_names_become_words(name, as_words, many, one):
    assert (words(name), plural(name), singular(name)) == (as_words, many, one)


CHINOOK_CASES = [
    # aggregate over a two-step join, grouped by the key, ranked: the issue's own example
    ("SELECT Artist.Name, COUNT(*) FROM Artist JOIN Album ON Artist.ArtistId = Album.ArtistId "
     "JOIN Track ON Album.AlbumId = Track.AlbumId GROUP BY Artist.ArtistId ORDER BY COUNT(*) DESC LIMIT 5",
     "Counts tracks for each artist (Artist → Album → Track), highest 5 first."),
    ("SELECT COUNT(*) FROM Track AS T JOIN Genre AS G ON T.GenreId = G.GenreId WHERE G.Name = 'Rock'",
     "Counts tracks (Track → Genre) where genre name is 'Rock'."),
    ("SELECT Name FROM Artist", "Lists the name of artists."),
    ("SELECT BillingCountry, SUM(Total) AS revenue FROM Invoice GROUP BY BillingCountry ORDER BY revenue DESC",
     "Adds up invoice total across invoices for each billing country, highest first."),
    ("SELECT strftime('%Y', InvoiceDate) AS year, SUM(Total) FROM Invoice WHERE InvoiceDate >= '2010-01-01' GROUP BY year",
     "Adds up invoice total across invoices for each year of invoice date where invoice date is at least '2010-01-01'."),
    ("SELECT AVG(Milliseconds) FROM Track", "Averages milliseconds across tracks."),
    ("SELECT COUNT(DISTINCT Country) FROM Customer", "Counts the different customer countries."),
    ("SELECT MAX(Total), MIN(Total) FROM Invoice", "Works out the highest invoice total and the lowest invoice total."),
    ("SELECT c.Country, COUNT(*) FROM Customer c GROUP BY c.Country HAVING COUNT(*) > 5",
     "Counts customers for each customer country keeping only those where the number of customers is more than 5."),
    ("SELECT Title FROM Album ORDER BY Title LIMIT 10", "Lists the title of albums, sorted by album title, first 10 only."),
    ("SELECT T1.ArtistId, T1.Name, COUNT(*) AS count FROM Artist AS T1 JOIN Album ON T1.ArtistId = Album.ArtistId "
     "GROUP BY T1.ArtistId ORDER BY count DESC LIMIT 1",
     "Counts albums for each artist (Artist → Album), only the highest."),
    ("SELECT g.Name, COUNT(*) FROM Track t JOIN Genre g ON t.GenreId = g.GenreId GROUP BY t.GenreId",
     "Counts tracks for each genre (Track → Genre)."),
    ("SELECT SUM(il.UnitPrice * il.Quantity) FROM InvoiceLine il JOIN Invoice i ON il.InvoiceId = i.InvoiceId "
     "WHERE i.BillingCountry = 'USA'",
     "Adds up unit price × quantity across invoice lines (InvoiceLine → Invoice) where billing country is 'USA'."),
    # filters: IN, LIKE, IS NULL, BETWEEN, implicit join in WHERE (left out of the sentence)
    ("SELECT FirstName, LastName FROM Customer WHERE Country IN ('Brazil', 'France') AND Email LIKE '%gmail%'",
     "Lists the first name and last name of customers where customer country is one of 'Brazil' or 'France' "
     "and customer email contains 'gmail'."),
    ("SELECT Name FROM Track WHERE Composer IS NULL", "Lists the name of tracks where composer is empty."),
    ("SELECT Name FROM Track WHERE Milliseconds BETWEEN 60000 AND 120000 AND Name NOT LIKE 'A%'",
     "Lists the name of tracks where milliseconds is between 60000 and 120000 and track name does not start with 'A'."),
    ("SELECT t.Name FROM Track t, Genre g WHERE t.GenreId = g.GenreId AND g.Name = 'Jazz'",
     "Lists the track name (Track → Genre) where genre name is 'Jazz'."),
    # subqueries
    ("SELECT Name FROM Track WHERE UnitPrice > (SELECT AVG(UnitPrice) FROM Track)",
     "Lists the name of tracks where unit price is more than the average unit price of all tracks."),
    ("SELECT Name FROM Artist WHERE ArtistId NOT IN (SELECT ArtistId FROM Album)",
     "Lists the name of artists where artist id is not among the artist id of albums."),
    ("SELECT Name FROM Artist a WHERE NOT EXISTS (SELECT 1 FROM Album b WHERE b.ArtistId = a.ArtistId AND b.Title LIKE 'A%')",
     "Lists the name of artists where there are no albums where album title starts with 'A'."),
    # set operations
    ("SELECT Name FROM Artist UNION SELECT Name FROM Genre",
     "Lists the name of artists; together with: lists the name of genres."),
    ("SELECT FirstName FROM Employee EXCEPT SELECT FirstName FROM Customer",
     "Lists the first name of employees; leaving out what appears when it lists the first name of customers."),
    ("SELECT Country FROM Customer INTERSECT SELECT Country FROM Employee",
     "Lists the country of customers; keeping only what also appears when it lists the country of employees."),
    # CTE, window functions
    ("WITH totals AS (SELECT CustomerId, SUM(Total) AS spent FROM Invoice GROUP BY CustomerId) SELECT AVG(spent) FROM totals",
     "First works out totals: adds up invoice total across invoices for each customer. "
     "Then averages the sum of invoice total across totals."),
    ("SELECT AVG(cnt) FROM (SELECT COUNT(*) AS cnt FROM Track GROUP BY AlbumId)",
     "Averages the number of tracks across rows of a sub-result. "
     "The rows it reads come from a step that counts tracks for each album."),
    ("SELECT strftime('%Y-%m', InvoiceDate) AS month, ROUND(SUM(Total), 2) FROM Invoice GROUP BY month ORDER BY month",
     "Adds up invoice total across invoices (rounded) for each month of invoice date, sorted by the month of invoice date."),
    ("SELECT Name, RANK() OVER (PARTITION BY GenreId ORDER BY Milliseconds DESC) FROM Track",
     "Lists the name and the rank by milliseconds (highest first) within each genre id of tracks."),
    ("SELECT Name, SUM(Milliseconds) OVER (ORDER BY TrackId) FROM Track",
     "Lists the name and the sum of milliseconds so far, in order of track id of tracks."),
    ("SELECT * FROM Employee", "Lists employees with all their columns."),
    # grouped, ranked by a measure it does not show: "Which country has the most customers?"
    ("SELECT Country FROM Customer GROUP BY Country ORDER BY COUNT(*) DESC LIMIT 1",
     "Ranks customer countries by the number of customers, only the highest."),
    ("SELECT strftime('%Y', InvoiceDate) FROM Invoice GROUP BY 1 ORDER BY SUM(Total) DESC LIMIT 1",
     "Ranks years of invoice date by the sum of invoice total, only the highest."),
    # a self join says which of the two rows each column is read from
    ("SELECT e.FirstName FROM Employee e JOIN Employee m ON e.ReportsTo = m.EmployeeId WHERE e.HireDate < m.HireDate",
     "Lists the first name (e) (Employee → Employee) where hire date (e) is less than hire date (m)."),
    # an aggregate of an aggregate, and a function the reader has no words for
    ("SELECT FirstName FROM Customer c JOIN Invoice i ON c.CustomerId = i.CustomerId GROUP BY c.CustomerId "
     "HAVING SUM(Total) > (SELECT AVG(s) FROM (SELECT SUM(Total) AS s FROM Invoice GROUP BY CustomerId))",
     "Lists the first name for each customer (Customer → Invoice) keeping only those where the sum of invoice total "
     "is more than the average of the sum of invoice total of all rows of a sub-result."),
    ("SELECT AVG(JULIANDAY('now') - JULIANDAY(BirthDate)) FROM Employee",
     "Averages julianday of 'now' − julianday of birth date across employees."),
    ("SELECT Name FROM Artist LIMIT 3 OFFSET 6", "Lists the name of artists, first 3 rows only, skipping the first 6."),
]


@pytest.mark.parametrize(("sql", "sentence"), CHINOOK_CASES)
def test_chinook_queries_read_as_plain_sentences(chinook_tables, sql, sentence):
    assert explain(sql, chinook_tables) == sentence


NORTHWIND_CASES = [
    ('SELECT c.CategoryName, SUM(od.UnitPrice * od.Quantity * (1 - od.Discount)) AS revenue FROM "Order Details" od '
     "JOIN Products p ON od.ProductID = p.ProductID JOIN Categories c ON p.CategoryID = c.CategoryID "
     "GROUP BY c.CategoryName ORDER BY revenue DESC LIMIT 3",
     "Adds up unit price × quantity × (1 − discount) across order details for each category name "
     "(Order Details → Products → Categories), highest 3 first."),
    ("SELECT COUNT(*) FROM Orders WHERE ShipCountry = 'Germany' AND OrderDate BETWEEN '2016-01-01' AND '2016-12-31'",
     "Counts orders where ship country is 'Germany' and order date is between '2016-01-01' and '2016-12-31'."),
    ("SELECT e.FirstName, e.LastName, COUNT(o.OrderID) FROM Employees e JOIN Orders o ON e.EmployeeID = o.EmployeeID "
     "GROUP BY e.EmployeeID ORDER BY 3 DESC",
     "Counts orders for each employee (Employees → Orders), highest first."),
    ("SELECT ProductName FROM Products WHERE Discontinued = 1 ORDER BY UnitPrice DESC",
     "Lists the product name of products where discontinued is 1, sorted by unit price from highest to lowest."),
]


@pytest.mark.parametrize(("sql", "sentence"), NORTHWIND_CASES)
def test_northwind_queries_read_as_plain_sentences(northwind_tables, sql, sentence):
    assert explain(sql, northwind_tables) == sentence


def test_every_noun_comes_from_the_query_or_the_schema(chinook_tables):
    sentence = explain("SELECT COUNT(*) FROM Invoice WHERE BillingCity = 'Oslo'", chinook_tables)
    assert sentence == "Counts invoices where billing city is 'Oslo'."
    assert "customer" not in sentence  # nothing the query does not read


def test_other_dialects_are_read_in_their_own_syntax(chinook_tables):
    sentence = explain('SELECT "Name" FROM "Artist" WHERE "Name" ILIKE \'%ac%\'', chinook_tables, dialect="postgres")
    assert sentence == "Lists the name of artists where artist name contains 'ac'."
    assert explain('SELECT DATE_TRUNC(\'month\', "InvoiceDate"), SUM("Total") FROM "Invoice" GROUP BY 1', chinook_tables,
                   dialect="postgres") == "Adds up invoice total across invoices for each month of invoice date."
    assert explain('SELECT "Name" FROM "Track" ORDER BY "Milliseconds" DESC FETCH FIRST 5 ROWS ONLY', chinook_tables,
                   dialect="postgres") == "Lists the name of tracks, sorted by milliseconds from highest to lowest, first 5 only."
    assert explain("SELECT YEAR(InvoiceDate), SUM(Total) FROM Invoice GROUP BY YEAR(InvoiceDate)", chinook_tables,
                   dialect="mysql") == "Adds up invoice total across invoices for each year of invoice date."


def test_what_it_cannot_read_gets_a_plain_fallback_and_never_raises(chinook_tables):
    assert explain("", chinook_tables) is None
    assert explain("SELEC nothing FROM", chinook_tables) == "The SQL could not be read, so it is not explained here."
    assert explain("SELECT Name FROM Artist CROSS JOIN LATERAL (SELECT 1) x", chinook_tables) == "Runs the query shown on Artist."
    assert explain("PRAGMA table_info(Artist)", chinook_tables) == "Runs the query shown."
