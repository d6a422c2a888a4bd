"""Seed the README tour's `shop` database: `public.orders` in a local PostgreSQL.

    .venv/bin/python scripts/demo_db.py --port 55432 --rows 1000          # create (or refill) the table
    .venv/bin/python scripts/demo_db.py --port 55432 --update 10 --add 5  # change 10 rows, add 5

Rows have the columns of assets/postgres/v1.0/db_orders.yaml; changed rows get a newer
``updated_at`` so the job's incremental run picks them up. Connects as ``--user`` (default
postgres, no password: the local server of scripts/services.sh trusts loopback).
"""

from __future__ import annotations

import argparse
import sys

import psycopg
from psycopg import sql

CREATE = """
CREATE TABLE public.orders (
    order_id bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    status text,
    amount numeric(12, 2),
    currency char(3),
    customer_email text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
)"""
INSERT = """
INSERT INTO public.orders
SELECT n, 1 + n %% 97, (ARRAY['new', 'paid', 'shipped', 'refunded'])[1 + n %% 4],
       round((n * 7.31)::numeric %% 1000, 2), (ARRAY['EUR', 'USD', 'GBP'])[1 + n %% 3],
       'customer' || (1 + n %% 97) || '@example.com',
       timestamptz '2026-01-01 00:00:00+00' + n * interval '1 hour',
       timestamptz '2026-01-01 00:00:00+00' + n * interval '1 hour'
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n"""


def _ensure_database(args: argparse.Namespace) -> None:
    with psycopg.connect(
        host=args.host, port=args.port, user=args.user, dbname="postgres", autocommit=True
    ) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.database,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.database)))


def main(argv: list[str] | None = None) -> None:
    """Create or change the demo table; print what it holds."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5432)
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--database", default="shop")
    parser.add_argument("--rows", type=int, help="(re)create the table with this many rows")
    parser.add_argument(
        "--update", type=int, default=0, help="give this many rows a new status and updated_at"
    )
    parser.add_argument("--add", type=int, default=0, help="append this many new rows")
    args = parser.parse_args(argv)
    try:
        _ensure_database(args)
        with psycopg.connect(host=args.host, port=args.port, user=args.user, dbname=args.database) as conn:
            if args.rows is not None:
                conn.execute("DROP TABLE IF EXISTS public.orders")
                conn.execute(CREATE)
                conn.execute(INSERT, {"first": 1, "last": args.rows})
            last = conn.execute("SELECT coalesce(max(order_id), 0) FROM public.orders").fetchone()[0]
            if args.add:
                conn.execute(INSERT, {"first": last + 1, "last": last + args.add})
                conn.execute(
                    "UPDATE public.orders SET updated_at = now(), created_at = now() WHERE order_id > %s",
                    (last,),
                )
            if args.update:
                conn.execute(
                    "UPDATE public.orders SET status = 'changed', updated_at = now() "
                    "WHERE order_id IN (SELECT order_id FROM public.orders ORDER BY order_id LIMIT %s)",
                    (args.update,),
                )
            count = conn.execute("SELECT count(*) FROM public.orders").fetchone()[0]
    except psycopg.Error as exc:
        sys.exit(
            f"demo_db: error: {args.host}:{args.port}/{args.database}: {str(exc).strip().splitlines()[0]}"
        )
    print(f"{args.database}.public.orders: {count:,} rows")


if __name__ == "__main__":
    main()
