"""The raw layout of Google's public `thelook_ecommerce` dataset, shared by the generator and the loader.

Types are the BigQuery types as loaded (INTEGER = INT64, FLOAT = FLOAT64, TIMESTAMP in UTC), written as the
DuckDB types the loader casts to. Columns that thelook has but the project does not use (`user_geom`,
`distribution_center_geom`, the `inventory_items` and `events` tables) are accepted in a user's export and
ignored.
"""

TABLES: dict[str, dict[str, str]] = {
    "users": {
        "id": "BIGINT",
        "first_name": "VARCHAR",
        "last_name": "VARCHAR",
        "email": "VARCHAR",
        "age": "BIGINT",
        "gender": "VARCHAR",
        "state": "VARCHAR",
        "street_address": "VARCHAR",
        "postal_code": "VARCHAR",
        "city": "VARCHAR",
        "country": "VARCHAR",
        "latitude": "DOUBLE",
        "longitude": "DOUBLE",
        "traffic_source": "VARCHAR",
        "created_at": "TIMESTAMP",
    },
    "orders": {
        "order_id": "BIGINT",
        "user_id": "BIGINT",
        "status": "VARCHAR",
        "gender": "VARCHAR",
        "created_at": "TIMESTAMP",
        "returned_at": "TIMESTAMP",
        "shipped_at": "TIMESTAMP",
        "delivered_at": "TIMESTAMP",
        "num_of_item": "BIGINT",
    },
    "order_items": {
        "id": "BIGINT",
        "order_id": "BIGINT",
        "user_id": "BIGINT",
        "product_id": "BIGINT",
        "inventory_item_id": "BIGINT",
        "status": "VARCHAR",
        "created_at": "TIMESTAMP",
        "shipped_at": "TIMESTAMP",
        "delivered_at": "TIMESTAMP",
        "returned_at": "TIMESTAMP",
        "sale_price": "DOUBLE",
    },
    "products": {
        "id": "BIGINT",
        "cost": "DOUBLE",
        "category": "VARCHAR",
        "name": "VARCHAR",
        "brand": "VARCHAR",
        "retail_price": "DOUBLE",
        "department": "VARCHAR",
        "sku": "VARCHAR",
        "distribution_center_id": "BIGINT",
    },
    "distribution_centers": {
        "id": "BIGINT",
        "name": "VARCHAR",
        "latitude": "DOUBLE",
        "longitude": "DOUBLE",
    },
}

# The key of each table: the loader refuses a file with a null or duplicated key.
PRIMARY_KEYS: dict[str, str] = {
    "users": "id",
    "orders": "order_id",
    "order_items": "id",
    "products": "id",
    "distribution_centers": "id",
}

# A user's export may lack the distribution centres (the analysis never needs them): loaded empty then.
OPTIONAL_TABLES = frozenset({"distribution_centers"})
