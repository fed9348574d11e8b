"""Generate `thelook_ecommerce`-shaped raw tables: users, orders, order_items, products, distribution_centers.

Two profiles (docs/generator.md has every parameter and formula):

* `thelook` reproduces the process of Google's public generator (public-datasets-pipelines, fake.py): uniform
  demographics, 0-4 orders per user at fixed odds, 1-4 items per order, each item a uniform draw from the
  user's department, sale_price = retail_price, status timestamps with the documented lags.
* `shop` (the default) keeps every table, column and rule of `thelook` and adds what real shops have: a latent
  customer value that raises order count, basket size and price tier, and per-customer category tastes that
  differ by value tier.

Deterministic (same arguments, byte-identical files) and vectorised (numpy / pyarrow.compute, no per-row
Python). The product catalogue comes from a fixed seed, so it is the same for every run, like the public
static products.csv; users and orders come from --seed.

    python scripts/generate_thelook.py --out data/thelook --users 100000 --seed 42 --profile shop
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from thelook_schema import TABLES

GENERATOR_VERSION = 1
PROFILES = ("shop", "thelook")
FORMATS = ("parquet", "csv")
DEFAULT_END_DATE = "2026-06-06"
CATALOGUE_SEED = 20220227  # fixed: the catalogue is static, like the public products.csv
PARQUET_ROW_GROUP = 1 << 20
DAY = 86_400
EPOCH = date(1970, 1, 1)
SIGNUP_START = date(2019, 1, 1)

# Stream ids for np.random.default_rng([seed, stream]): adding a stream never shifts the others.
STREAM_USERS, STREAM_ORDERS, STREAM_ITEMS, STREAM_SHOP = 1, 2, 3, 4

# ---------------------------------------------------------------------------------------------------------
# thelook parameters (fake.py, see /work/shared/reference/thelook_shape.md)
# ---------------------------------------------------------------------------------------------------------
TRAFFIC_SOURCES = ["Organic", "Facebook", "Search", "Email", "Display"]
TRAFFIC_P = [0.15, 0.06, 0.70, 0.05, 0.04]
AGE_MIN, AGE_MAX = 12, 70
RECENT_SIGNUP_P = 0.025
SIGNUP_MINUTES = 19 * 60  # randrange(1140): time of day 00:00-18:59
ORDERS_PER_USER = [0, 1, 2, 3, 4]
ORDERS_PER_USER_P = [0.20, 0.50, 0.20, 0.05, 0.05]
STATUSES = ["Complete", "Cancelled", "Returned", "Processing", "Shipped"]
STATUS_P = [0.25, 0.15, 0.10, 0.20, 0.30]
ITEMS_PER_ORDER = [1, 2, 3, 4]
ITEMS_PER_ORDER_P = [0.70, 0.20, 0.05, 0.05]
SHIP_MAX_MIN, DELIVER_MAX_MIN, RETURN_MAX_MIN = 3 * 1440, 5 * 1440, 3 * 1440
ITEM_BACKDATE_MAX_S = 4 * 3600  # item created up to 4 h before its order
EVENT_STEP_MAX_S = 180  # each click-stream event moves the item's created_at by randrange(180) s
UNSOLD_STUBS = [1, 2, 3]
UNSOLD_STUBS_P = [0.5, 0.3, 0.2]
GENDERS = ["F", "M"]  # indexed by is_male
EMAIL_DOMAINS = ["example.com", "example.net", "example.org"]  # faker's safe_domain_name

# ---------------------------------------------------------------------------------------------------------
# shop parameters (docs/generator.md, "The shop profile")
# ---------------------------------------------------------------------------------------------------------
SHOP_BUYER_P = 0.80
SHOP_VALUE_SIGMA = 1.3  # value v = exp(sigma * z), z ~ N(0, 1)
SHOP_ORDERS_LAMBDA = 0.5  # orders = 1 + Poisson(min(0.5 * v, 10)), capped at 15
SHOP_ORDERS_RATE_MAX = 10.0  # saturating the rate thins the tail out towards the cap instead of piling on it
SHOP_ORDERS_MAX = 15
SHOP_ITEMS_LAMBDA = 0.30  # items = 1 + Poisson(0.30 * v ** 0.6), capped
SHOP_ITEMS_EXP = 0.6
SHOP_ITEMS_MAX = 8
SHOP_PRICE_TILT = 0.7  # price quantile within a category = u ** exp(-0.7 * z)
# Value tiers by z: low = bottom 40 %, mid = next 50 %, high = top 10 %.
SHOP_TIER_LOW_Z, SHOP_TIER_HIGH_Z = -0.2533, 1.2816
SHOP_TASTE_CONCENTRATION = 12.0  # Dirichlet concentration around the tier's category mix
PREMIUM_CATEGORIES = ("Outerwear & Coats", "Suits & Sport Coats", "Blazers & Jackets", "Jeans", "Suits")
BARGAIN_CATEGORIES = ("Socks", "Socks & Hosiery", "Underwear", "Intimates", "Accessories")
# Multipliers on the department's product-count shares, per value tier. Mid-value customers shun
# Outerwear & Coats much harder than the 0.3 one might pick: a coat's price alone lifts a one-order buyer
# into the top monetary tercile, so only a strong dip survives into an RFM "Silver" segment (~0.5x).
SHOP_TILT = {
    "low": {"premium": 0.6, "bargain": 2.0, "Outerwear & Coats": 0.8},
    "mid": {"premium": 1.0, "bargain": 1.0, "Outerwear & Coats": 0.15},
    "high": {"premium": 2.0, "bargain": 0.6, "Outerwear & Coats": 3.0},
}
TIERS = ("low", "mid", "high")

# ---------------------------------------------------------------------------------------------------------
# Product catalogue: (department, category, products, mean retail, std, min, max, mean cost/retail) per cell,
# exactly the public products table's profile (thelook_shape.md section 3).
# ---------------------------------------------------------------------------------------------------------
CATALOGUE_CELLS = [
    ("Men", "Jeans", 1117, 101.16, 67.24, 9.99, 389.00, 0.532),
    ("Men", "Underwear", 1088, 27.16, 14.99, 5.99, 283.34, 0.470),
    ("Men", "Tops & Tees", 1084, 42.25, 30.30, 5.00, 268.00, 0.561),
    ("Men", "Pants", 1041, 59.81, 38.33, 9.99, 293.33, 0.459),
    ("Men", "Sweaters", 999, 77.59, 55.65, 9.00, 349.98, 0.500),
    ("Men", "Fashion Hoodies & Sweatshirts", 971, 58.32, 41.18, 10.43, 903.00, 0.550),
    ("Men", "Sleep & Lounge", 941, 50.16, 46.60, 6.99, 399.95, 0.399),
    ("Men", "Shorts", 939, 50.14, 55.40, 7.90, 999.00, 0.501),
    ("Men", "Swim", 906, 50.09, 24.31, 12.90, 274.99, 0.601),
    ("Men", "Socks", 905, 20.42, 43.04, 2.99, 903.00, 0.602),
    ("Men", "Outerwear & Coats", 828, 149.27, 143.88, 11.99, 999.00, 0.442),
    ("Men", "Accessories", 820, 41.68, 45.63, 1.50, 296.45, 0.401),
    ("Men", "Active", 753, 47.63, 63.55, 5.00, 903.00, 0.421),
    ("Men", "Suits & Sport Coats", 739, 126.56, 98.77, 9.99, 698.00, 0.401),
    ("Women", "Intimates", 2363, 33.71, 30.14, 1.75, 903.00, 0.531),
    ("Women", "Dresses", 955, 84.20, 81.34, 7.99, 498.00, 0.451),
    ("Women", "Maternity", 898, 50.80, 37.36, 1.98, 275.00, 0.442),
    ("Women", "Fashion Hoodies & Sweatshirts", 895, 49.14, 29.52, 8.88, 288.00, 0.470),
    ("Women", "Swim", 892, 65.66, 43.13, 5.95, 288.00, 0.421),
    ("Women", "Jeans", 882, 93.66, 59.04, 12.00, 326.00, 0.541),
    ("Women", "Sleep & Lounge", 830, 48.15, 34.94, 2.99, 360.00, 0.601),
    ("Women", "Shorts", 826, 40.80, 32.16, 4.99, 246.00, 0.500),
    ("Women", "Tops & Tees", 784, 40.08, 36.53, 3.11, 285.00, 0.559),
    ("Women", "Plus", 758, 38.43, 51.02, 1.82, 903.00, 0.501),
    ("Women", "Accessories", 739, 43.55, 50.87, 2.00, 299.00, 0.401),
    ("Women", "Sweaters", 738, 72.24, 62.77, 5.99, 588.00, 0.449),
    ("Women", "Active", 679, 53.93, 87.13, 1.95, 903.00, 0.420),
    ("Women", "Socks & Hosiery", 666, 16.76, 11.29, 1.95, 159.95, 0.401),
    ("Women", "Pants & Capris", 613, 54.71, 58.76, 7.92, 895.00, 0.531),
    ("Women", "Outerwear & Coats", 592, 141.47, 129.94, 10.51, 903.00, 0.450),
    ("Women", "Leggings", 564, 27.15, 34.05, 4.99, 528.81, 0.600),
    ("Women", "Blazers & Jackets", 561, 92.60, 92.25, 7.68, 698.00, 0.380),
    ("Women", "Skirts", 367, 52.33, 61.52, 6.49, 598.00, 0.400),
    ("Women", "Suits", 188, 116.16, 46.29, 13.99, 239.72, 0.605),
    ("Women", "Jumpsuits & Rompers", 162, 45.42, 62.33, 8.74, 550.00, 0.529),
    ("Women", "Clothing Sets", 37, 84.84, 42.27, 19.99, 199.95, 0.618),
]
COST_RATIO_NOISE = 0.028
COST_RATIO_CLIP = (0.25, 0.665)  # <= 0.665 keeps every markup above 50 %
NULL_BRANDS, NULL_NAMES = 24, 2  # the public products table has 24 null brands and 2 null names

DISTRIBUTION_CENTERS = [
    (1, "Memphis TN", 35.1174, -89.9711),
    (2, "Chicago IL", 41.8369, -87.6847),
    (3, "Houston TX", 29.7604, -95.3698),
    (4, "Los Angeles CA", 34.05, -118.25),
    (5, "New Orleans LA", 29.95, -90.0667),
    (6, "Port Authority of New York/New Jersey NY/NJ", 40.634, -73.7834),
    (7, "Philadelphia PA", 39.95, -75.1667),
    (8, "Mobile AL", 30.6944, -88.0431),
    (9, "Charleston SC", 32.7833, -79.9333),
    (10, "Savannah GA", 32.0167, -81.1167),
]
# Products per centre; Chicago's 3,929 is the public figure, the others split the rest by these weights.
DC_CHICAGO_PRODUCTS = 3929
DC_OTHER_WEIGHTS = {1: 1.12, 3: 1.05, 4: 1.00, 5: 0.95, 6: 1.00, 7: 0.95, 8: 0.90, 9: 0.98, 10: 1.05}

# Big brands with their public product counts and the share of their products in Women's.
BIG_BRANDS = [("Allegra K", 1034, 0.75), ("Calvin Klein", 497, 0.45), ("Carhartt", 388, 0.0)]
TOTAL_BRANDS = 2756
REAL_BRANDS = [
    "Hanes", "Tommy Hilfiger", "Levi's", "Columbia", "Nautica", "Quiksilver", "Diesel", "Dockers", "Volcom",
    "Hurley", "Jockey", "2XU", "Wrangler", "Champion", "Lucky Brand", "Speedo", "Under Armour",
    "Fruit of the Loom", "Puma", "adidas", "Nike", "Motherhood Maternity", "Lee", "Polo Ralph Lauren",
    "Perry Ellis", "Izod", "Haggar", "Kenneth Cole", "Michael Kors", "Jones New York", "Anne Klein", "Guess",
    "Tommy Bahama", "True Religion", "7 For All Mankind", "Joe's Jeans", "Hudson", "AG Adriano Goldschmied",
    "Paige", "Lacoste", "Ben Sherman", "Original Penguin", "Fred Perry", "Billabong", "O'Neill", "Roxy",
    "Rip Curl", "Spanx", "Maidenform", "Bali", "Playtex", "Wacoal", "Warner's", "Vanity Fair", "HUE",
    "Gold Toe", "Wigwam", "Smartwool", "Thorlo", "Dickies", "Red Kap", "Pendleton", "Woolrich",
    "Patagonia", "The North Face", "Marmot", "Arc'teryx", "Mountain Hardwear", "Alpha Industries",
    "Schott NYC", "Barbour", "London Fog", "Betsey Johnson", "Free People", "BCBGMAXAZRIA", "Eileen Fisher",
    "Jessica Simpson", "Kensie", "Lilly Pulitzer", "Vince Camuto", "Ray-Ban", "Oakley", "Fossil",
    "Carole Hochman", "Natori", "Hanky Panky", "Felina", "Leonisa", "Cosabella", "Ambiance Apparel",
]
BRAND_PREFIXES = [
    "Al", "Bel", "Cor", "Dar", "El", "Fen", "Gal", "Har", "Is", "Jor", "Kal", "Lor", "Mar", "Nor", "Or",
    "Pal", "Quin", "Ros", "Sol", "Tar", "Ul", "Val", "Wes", "Xan", "Yar", "Zel", "Bri", "Cal", "Del", "Est",
    "Fal", "Gre", "Hol", "Ivo", "Jun", "Kin", "Lux", "Mon", "Nav", "Oak", "Per", "Riv", "Sav", "Tem", "Ven",
]
BRAND_SUFFIXES = [
    "a", "ara", "ette", "ino", "ora", "is", "ton", "ley", "wood", "more", "ridge", "field", "ven", "lia",
    "cia", "den", "fort", "gate", "mont", "ana", "ello", "iva", "una", "rio", "ssa", "bay", "bury", "line",
    "stone", "vale", "worth", "ace", "elle", "ique", "ani",
]
BRAND_TAILS = ["", " Apparel", " & Co.", " Studio", " Collection", " Denim", " NYC", " London", " Basics"]

NAME_DESCRIPTORS = [
    "Classic", "Slim Fit", "Relaxed Fit", "Stretch", "Cotton", "Vintage", "Essential", "Premium",
    "Lightweight", "Soft", "Casual", "Signature", "Modern", "Everyday", "Performance", "Organic Cotton",
    "Heathered", "Striped", "Solid", "Printed", "Washed", "Tailored", "Oversized", "Ribbed", "Quilted",
    "Stretch Cotton", "Linen Blend", "Wool Blend", "Jersey", "Fleece", "Textured", "Two-Tone",
]
CATEGORY_NOUNS = {
    "Accessories": ["Leather Belt", "Baseball Cap", "Knit Beanie", "Sunglasses", "Scarf", "Wallet",
                    "Gloves", "Bucket Hat", "Watch"],
    "Active": ["Training Shorts", "Running Tights", "Track Jacket", "Performance Tee", "Joggers",
               "Compression Shirt", "Warm-Up Pant"],
    "Blazers & Jackets": ["Blazer", "One-Button Blazer", "Moto Jacket", "Denim Jacket", "Bomber Jacket",
                          "Cropped Jacket"],
    "Clothing Sets": ["Two-Piece Set", "Top and Skirt Set", "Pajama Set, 2-Piece", "Lounge Set"],
    "Dresses": ["Maxi Dress", "Wrap Dress", "Shift Dress", "Sundress", "Cocktail Dress", "Midi Dress",
                "Bodycon Dress"],
    "Fashion Hoodies & Sweatshirts": ["Pullover Hoodie", "Zip Hoodie", "Crewneck Sweatshirt", "Fleece Hoodie",
                                      "Graphic Sweatshirt"],
    "Intimates": ["Push-Up Bra", "Bralette", "Hipster Panty", "Thong, 3-Pack", "Shapewear Slip", "Camisole",
                  "Lace Brief", "Sports Bra"],
    "Jeans": ["Skinny Jean", "Straight Leg Jean", "Bootcut Jean", "Slim Fit Jean", "Relaxed Fit Jean",
              "Original Fit Jean", 'Jean, 32" Inseam'],
    "Jumpsuits & Rompers": ["Jumpsuit", "Romper", "Wide Leg Jumpsuit", "Strapless Romper"],
    "Leggings": ["Leggings", "Capri Leggings", "Fleece Lined Leggings", "High Waist Leggings"],
    "Maternity": ["Maternity Dress", "Maternity Jean", "Nursing Top", "Maternity Leggings", "Maternity Tee"],
    "Outerwear & Coats": ["Parka", "Down Jacket", "Trench Coat", "Wool Coat", "Puffer Jacket", "Rain Jacket",
                          "Peacoat", "Field Jacket"],
    "Pants": ["Chino Pant", "Cargo Pant", "Dress Pant", "Khaki Pant", "Flat Front Pant", "Jogger Pant"],
    "Pants & Capris": ["Capri Pant", "Wide Leg Pant", "Cropped Pant", "Trouser", "Linen Pant"],
    "Plus": ["Plus Size Tunic", "Plus Size Top", "Plus Size Dress", "Plus Size Cardigan", "Plus Size Pant"],
    "Shorts": ["Cargo Short", "Board Short", 'Chino Short, 9" Inseam', "Denim Short", "Bermuda Short",
               "Athletic Short"],
    "Skirts": ["Pencil Skirt", "Pleated Skirt", "Maxi Skirt", "A-Line Skirt", "Mini Skirt"],
    "Sleep & Lounge": ["Pajama Set", "Robe", "Lounge Pant", "Sleep Shirt", "Sleep Short"],
    "Socks": ["Crew Socks, 6-Pack", "Ankle Socks", "Dress Socks", "Athletic Socks", "Boot Socks",
              "No-Show Socks"],
    "Socks & Hosiery": ["Tights", "Knee High Socks", "Pantyhose", "Ankle Socks", "Thigh High Stockings"],
    "Suits": ["Pant Suit", "Skirt Suit", "Blazer and Pant Set"],
    "Suits & Sport Coats": ["Sport Coat", "Two-Button Suit", "Suit Jacket", "Tuxedo Jacket", "Wool Blazer"],
    "Sweaters": ["Cardigan", "Crewneck Sweater", "V-Neck Sweater", "Cable Knit Sweater", "Turtleneck",
                 "Quarter-Zip Pullover"],
    "Swim": ["Swimsuit", "Swim Cover-Up", "Rash Guard"],
    "Tops & Tees": ["Crew Neck Tee", "V-Neck Tee", "Polo Shirt", "Henley", "Tank Top", "Button-Down Shirt",
                    "Graphic Tee"],
    "Underwear": ["Boxer Brief", "Brief, 3-Pack", "Trunk", "Boxer", "Undershirt", "Low Rise Trunk"],
}
# Department-specific nouns where the shared list would not fit.
DEPT_CATEGORY_NOUNS = {
    ("Men", "Swim"): ['Swim Trunk, 7" Inseam', "Board Short", "Rash Guard", "Swim Brief"],
    ("Women", "Swim"): ["Bikini Set", "One-Piece Swimsuit", "Tankini Top", "Bikini Bottom", "Cover-Up"],
    ("Women", "Active"): ["Sports Bra", "Yoga Pant", "Running Tights", "Performance Tank", "Track Jacket"],
    ("Women", "Tops & Tees"): ["Blouse", "V-Neck Tee", "Tank Top", "Tunic", "Peasant Top", "Graphic Tee"],
}

# ---------------------------------------------------------------------------------------------------------
# Users: names (faker en_US style) and locations (country shares of world_pop.csv; a handful of real cities).
# ---------------------------------------------------------------------------------------------------------
FIRST_NAMES_MALE = [
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
    "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua",
    "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason", "Jeffrey", "Ryan", "Jacob",
    "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon", "Benjamin",
    "Samuel", "Gregory", "Alexander", "Frank", "Patrick", "Raymond", "Jack", "Dennis", "Jerry", "Tyler",
    "Aaron", "Jose", "Adam", "Nathan", "Henry", "Douglas", "Zachary", "Peter", "Kyle", "Ethan", "Walter",
    "Noah", "Jeremy", "Christian", "Keith", "Roger", "Terry", "Gerald", "Harold", "Sean", "Austin", "Carl",
    "Arthur", "Lawrence", "Dylan", "Jesse", "Jordan", "Bryan", "Billy", "Joe", "Bruce", "Gabriel", "Logan",
    "Albert", "Willie", "Alan", "Juan", "Wayne", "Elijah", "Randy", "Roy", "Vincent", "Ralph", "Eugene",
    "Russell", "Bobby", "Mason", "Philip", "Louis",
]
FIRST_NAMES_FEMALE = [
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
    "Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna", "Michelle",
    "Carol", "Amanda", "Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia",
    "Kathleen", "Amy", "Angela", "Shirley", "Anna", "Brenda", "Pamela", "Emma", "Nicole", "Helen",
    "Samantha", "Katherine", "Christine", "Debra", "Rachel", "Carolyn", "Janet", "Catherine", "Maria",
    "Heather", "Diane", "Ruth", "Julie", "Olivia", "Joyce", "Virginia", "Victoria", "Kelly", "Lauren",
    "Christina", "Joan", "Evelyn", "Judith", "Megan", "Andrea", "Cheryl", "Hannah", "Jacqueline", "Martha",
    "Gloria", "Teresa", "Ann", "Sara", "Madison", "Frances", "Kathryn", "Janice", "Jean", "Abigail", "Alice",
    "Julia", "Judy", "Sophia", "Grace", "Denise", "Amber", "Doris", "Marilyn", "Danielle", "Beverly",
    "Isabella", "Theresa", "Diana", "Natalie", "Brittany", "Charlotte", "Marie", "Kayla", "Alexis", "Lori",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez",
    "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart",
    "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
    "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks",
    "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo",
    "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry", "Russell",
    "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher", "Vasquez",
    "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham", "Reynolds", "Griffin",
    "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina",
    "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez",
    "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb",
    "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez",
    "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz", "Hunt", "Hicks", "Holmes", "Palmer", "Wagner",
    "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice",
    "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens", "Soto", "Weaver", "Ryan", "Gardner",
]
STREET_SUFFIXES = [
    "Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place", "Way", "Boulevard", "Terrace", "Trail",
    "Parkway", "Circle", "Square", "Ridge", "Crossing", "Hills", "Mall", "Station", "Views", "Gardens",
    "Points", "Springs", "Track", "Ports", "Mission",
]

# Country shares (%) of the population weights in world_pop.csv; the last four are ~0 in the public data
# and appear as its duplicate spellings (España, Deutschland) and strays.
COUNTRY_SHARES = {
    "China": 33.9, "United States": 22.5, "Brasil": 14.6, "South Korea": 5.3, "France": 4.7,
    "United Kingdom": 4.6, "Germany": 4.2, "Spain": 4.0, "Japan": 2.5, "Australia": 2.2, "Belgium": 1.25,
    "Poland": 0.24, "Colombia": 0.004, "Austria": 0.004, "España": 0.004, "Deutschland": 0.004,
}
# United States: state share of US users (%); the states not listed share the rest (see US_OTHER_STATES).
US_STATE_SHARES = {"California": 16.5, "Texas": 10.8, "Florida": 7.6, "New York": 5.9}
# (country, state, city, postal code, latitude, longitude, weight within its state or country)
LOCATIONS = [
    ("China", "Guangdong", "Guangzhou", "510000", 23.1291, 113.2644, 18.7),
    ("China", "Guangdong", "Shenzhen", "518000", 22.5431, 114.0579, 17.5),
    ("China", "Shanghai", "Shanghai", "200000", 31.2304, 121.4737, 24.9),
    ("China", "Beijing", "Beijing", "100000", 39.9042, 116.4074, 21.9),
    ("China", "Sichuan", "Chengdu", "610000", 30.5728, 104.0668, 16.3),
    ("China", "Zhejiang", "Hangzhou", "310000", 30.2741, 120.1551, 12.2),
    ("China", "Hubei", "Wuhan", "430000", 30.5928, 114.3055, 12.3),
    ("China", "Jiangsu", "Nanjing", "210000", 32.0603, 118.7969, 9.3),
    ("China", "Shaanxi", "Xi'an", "710000", 34.3416, 108.9398, 12.9),
    ("China", "Tianjin", "Tianjin", "300000", 39.3434, 117.3616, 13.9),
    ("China", "Henan", "Zhengzhou", "450000", 34.7466, 113.6254, 12.6),
    ("Brasil", "São Paulo", "São Paulo", "01000-000", -23.5505, -46.6333, 12.3),
    ("Brasil", "São Paulo", "Campinas", "13000-000", -22.9099, -47.0626, 1.2),
    ("Brasil", "Rio de Janeiro", "Rio de Janeiro", "20000-000", -22.9068, -43.1729, 6.7),
    ("Brasil", "Minas Gerais", "Belo Horizonte", "30110-000", -19.9167, -43.9345, 2.5),
    ("Brasil", "Bahia", "Salvador", "40000-000", -12.9777, -38.5016, 2.9),
    ("Brasil", "Ceará", "Fortaleza", "60000-000", -3.7319, -38.5267, 2.7),
    ("Brasil", "Paraná", "Curitiba", "80000-000", -25.4284, -49.2733, 1.9),
    ("Brasil", "Rio Grande do Sul", "Porto Alegre", "90000-000", -30.0346, -51.2177, 1.5),
    ("Brasil", "Pernambuco", "Recife", "50000-000", -8.0476, -34.8770, 1.6),
    ("Brasil", "Amazonas", "Manaus", "69000-000", -3.1190, -60.0217, 2.2),
    ("South Korea", "Seoul", "Seoul", "04524", 37.5665, 126.9780, 9.7),
    ("South Korea", "Busan", "Busan", "48058", 35.1796, 129.0756, 3.4),
    ("South Korea", "Incheon", "Incheon", "21554", 37.4563, 126.7052, 2.9),
    ("South Korea", "Daegu", "Daegu", "41911", 35.8714, 128.6014, 2.4),
    ("South Korea", "Gyeonggi-do", "Suwon", "16489", 37.2636, 127.0286, 1.2),
    ("France", "Île-de-France", "Paris", "75001", 48.8566, 2.3522, 11.0),
    ("France", "Auvergne-Rhône-Alpes", "Lyon", "69001", 45.7640, 4.8357, 2.3),
    ("France", "Provence-Alpes-Côte d'Azur", "Marseille", "13001", 43.2965, 5.3698, 1.9),
    ("France", "Occitanie", "Toulouse", "31000", 43.6047, 1.4442, 1.4),
    ("France", "Nouvelle-Aquitaine", "Bordeaux", "33000", 44.8378, -0.5792, 1.2),
    ("France", "Hauts-de-France", "Lille", "59000", 50.6292, 3.0573, 1.2),
    ("United Kingdom", "England", "London", "EC1A 1BB", 51.5074, -0.1278, 9.0),
    ("United Kingdom", "England", "Birmingham", "B1 1AA", 52.4862, -1.8904, 2.9),
    ("United Kingdom", "England", "Manchester", "M1 1AE", 53.4808, -2.2426, 2.7),
    ("United Kingdom", "England", "Leeds", "LS1 1UR", 53.8008, -1.5491, 1.9),
    ("United Kingdom", "Scotland", "Glasgow", "G1 1XQ", 55.8642, -4.2518, 1.7),
    ("United Kingdom", "Wales", "Cardiff", "CF10 1AA", 51.4816, -3.1791, 0.5),
    ("Germany", "Berlin", "Berlin", "10115", 52.5200, 13.4050, 3.6),
    ("Germany", "Bayern", "München", "80331", 48.1351, 11.5820, 1.5),
    ("Germany", "Hamburg", "Hamburg", "20095", 53.5511, 9.9937, 1.8),
    ("Germany", "Nordrhein-Westfalen", "Köln", "50667", 50.9375, 6.9603, 1.1),
    ("Germany", "Hessen", "Frankfurt am Main", "60311", 50.1109, 8.6821, 0.8),
    ("Germany", "Baden-Württemberg", "Stuttgart", "70173", 48.7758, 9.1829, 0.6),
    ("Spain", "Madrid", "Madrid", "28001", 40.4168, -3.7038, 6.6),
    ("Spain", "Cataluña", "Barcelona", "08001", 41.3851, 2.1734, 5.6),
    ("Spain", "Comunidad Valenciana", "Valencia", "46001", 39.4699, -0.3763, 1.6),
    ("Spain", "Andalucía", "Sevilla", "41001", 37.3891, -5.9845, 1.5),
    ("Spain", "Aragón", "Zaragoza", "50001", 41.6488, -0.8891, 0.7),
    ("Japan", "Tokyo", "Tokyo", "100-0001", 35.6762, 139.6503, 14.0),
    ("Japan", "Osaka", "Osaka", "530-0001", 34.6937, 135.5023, 2.7),
    ("Japan", "Kanagawa", "Yokohama", "220-0011", 35.4437, 139.6380, 3.8),
    ("Japan", "Aichi", "Nagoya", "450-0002", 35.1815, 136.9066, 2.3),
    ("Japan", "Hokkaido", "Sapporo", "060-0001", 43.0618, 141.3545, 2.0),
    ("Japan", "Fukuoka", "Fukuoka", "810-0001", 33.5904, 130.4017, 1.6),
    ("Australia", "New South Wales", "Sydney", "2000", -33.8688, 151.2093, 5.3),
    ("Australia", "Victoria", "Melbourne", "3000", -37.8136, 144.9631, 5.1),
    ("Australia", "Queensland", "Brisbane", "4000", -27.4698, 153.0251, 2.5),
    ("Australia", "Western Australia", "Perth", "6000", -31.9505, 115.8605, 2.1),
    ("Australia", "South Australia", "Adelaide", "5000", -34.9285, 138.6007, 1.4),
    ("Belgium", "Brussels", "Brussels", "1000", 50.8503, 4.3517, 1.2),
    ("Belgium", "Antwerpen", "Antwerpen", "2000", 51.2194, 4.4025, 0.5),
    ("Belgium", "Oost-Vlaanderen", "Gent", "9000", 51.0543, 3.7174, 0.26),
    ("Belgium", "Liège", "Liège", "4000", 50.6326, 5.5797, 0.2),
    ("Poland", "Mazowieckie", "Warszawa", "00-001", 52.2297, 21.0122, 1.8),
    ("Poland", "Małopolskie", "Kraków", "30-001", 50.0647, 19.9450, 0.8),
    ("Poland", "Łódzkie", "Łódź", "90-001", 51.7592, 19.4560, 0.7),
    ("Poland", "Dolnośląskie", "Wrocław", "50-001", 51.1079, 17.0385, 0.6),
    ("Colombia", "Bogotá", "Bogotá", "110111", 4.7110, -74.0721, 1.0),
    ("Austria", "Wien", "Wien", "1010", 48.2082, 16.3738, 1.0),
    ("España", "Madrid", "Madrid", "28013", 40.4180, -3.7143, 1.0),
    ("Deutschland", "Berlin", "Berlin", "10117", 52.5170, 13.3889, 1.0),
    # United States: weight = share within the state
    ("United States", "California", "Los Angeles", "90011", 34.0069, -118.2586, 3.9),
    ("United States", "California", "San Diego", "92154", 32.5710, -116.9907, 1.4),
    ("United States", "California", "San Jose", "95123", 37.2452, -121.8300, 1.0),
    ("United States", "California", "San Francisco", "94112", 37.7204, -122.4428, 0.9),
    ("United States", "California", "Fresno", "93722", 36.8019, -119.8794, 0.5),
    ("United States", "California", "Sacramento", "95823", 38.4749, -121.4429, 0.5),
    ("United States", "California", "Riverside", "92503", 33.8858, -117.4479, 0.3),
    ("United States", "Texas", "Houston", "77084", 29.8247, -95.6502, 2.3),
    ("United States", "Texas", "San Antonio", "78245", 29.4186, -98.6895, 1.5),
    ("United States", "Texas", "Dallas", "75217", 32.7113, -96.6816, 1.3),
    ("United States", "Texas", "Austin", "78745", 30.2072, -97.7956, 1.0),
    ("United States", "Texas", "El Paso", "79936", 31.7762, -106.2978, 0.7),
    ("United States", "Florida", "Miami", "33186", 25.6553, -80.4121, 1.0),
    ("United States", "Florida", "Jacksonville", "32210", 30.2669, -81.7474, 1.0),
    ("United States", "Florida", "Tampa", "33647", 28.1256, -82.3605, 0.8),
    ("United States", "Florida", "Orlando", "32828", 28.5211, -81.1770, 0.7),
    ("United States", "New York", "New York", "11368", 40.7498, -73.8540, 8.0),
    ("United States", "New York", "Buffalo", "14215", 42.9337, -78.8115, 0.5),
    ("United States", "New York", "Rochester", "14621", 43.1857, -77.6039, 0.4),
    ("United States", "Pennsylvania", "Philadelphia", "19120", 40.0341, -75.1196, 1.6),
    ("United States", "Pennsylvania", "Pittsburgh", "15237", 40.5487, -80.0440, 0.6),
    ("United States", "Illinois", "Chicago", "60629", 41.7756, -87.7120, 2.7),
    ("United States", "Illinois", "Aurora", "60505", 41.7653, -88.2935, 0.2),
    ("United States", "Ohio", "Columbus", "43229", 40.0838, -82.9724, 0.9),
    ("United States", "Ohio", "Cleveland", "44102", 41.4733, -81.7365, 0.4),
    ("United States", "Georgia", "Atlanta", "30349", 33.6229, -84.5262, 0.5),
    ("United States", "Georgia", "Lawrenceville", "30043", 34.0025, -84.0077, 0.1),
    ("United States", "North Carolina", "Charlotte", "28269", 35.3376, -80.8031, 0.9),
    ("United States", "North Carolina", "Raleigh", "27610", 35.7448, -78.5481, 0.5),
    ("United States", "Michigan", "Detroit", "48235", 42.4267, -83.1955, 0.6),
    ("United States", "Michigan", "Grand Rapids", "49504", 42.9786, -85.7057, 0.2),
    ("United States", "New Jersey", "Newark", "07106", 40.7415, -74.2295, 0.3),
    ("United States", "New Jersey", "Lakewood", "08701", 40.0766, -74.2034, 0.1),
    ("United States", "Virginia", "Virginia Beach", "23464", 36.7976, -76.1794, 0.4),
    ("United States", "Virginia", "Richmond", "23223", 37.5483, -77.3777, 0.2),
    ("United States", "Washington", "Seattle", "98103", 47.6733, -122.3426, 0.7),
    ("United States", "Washington", "Spokane", "99208", 47.7397, -117.4122, 0.2),
    ("United States", "Arizona", "Phoenix", "85032", 33.6264, -112.0038, 1.6),
    ("United States", "Arizona", "Tucson", "85710", 32.2139, -110.8238, 0.5),
    ("United States", "Massachusetts", "Boston", "02124", 42.2856, -71.0706, 0.7),
    ("United States", "Tennessee", "Nashville", "37211", 36.0669, -86.7239, 0.7),
    ("United States", "Tennessee", "Memphis", "38118", 35.0342, -89.9267, 0.6),
    ("United States", "Indiana", "Indianapolis", "46227", 39.6752, -86.1323, 0.9),
    ("United States", "Missouri", "Kansas City", "64118", 39.2150, -94.5730, 0.5),
    ("United States", "Missouri", "St. Louis", "63116", 38.5813, -90.2646, 0.3),
    ("United States", "Maryland", "Baltimore", "21215", 39.3450, -76.6830, 0.6),
    ("United States", "Wisconsin", "Milwaukee", "53215", 42.9991, -87.9475, 0.6),
    ("United States", "Colorado", "Denver", "80219", 39.6962, -105.0340, 0.7),
    ("United States", "Colorado", "Aurora", "80013", 39.6607, -104.7683, 0.3),
    ("United States", "Minnesota", "Minneapolis", "55407", 44.9378, -93.2540, 0.5),
    ("United States", "South Carolina", "Columbia", "29209", 33.9636, -80.9292, 0.3),
    ("United States", "South Carolina", "Rock Hill", "29732", 34.9673, -81.0814, 0.2),
    ("United States", "Alabama", "Birmingham", "35215", 33.6497, -86.7069, 0.3),
    ("United States", "Alabama", "Mobile", "36695", 30.6321, -88.2748, 0.2),
    ("United States", "Louisiana", "New Orleans", "70119", 29.9744, -90.0857, 0.4),
    ("United States", "Louisiana", "Baton Rouge", "70810", 30.3466, -91.0835, 0.3),
    ("United States", "Kentucky", "Louisville", "40214", 38.1590, -85.7785, 0.5),
    ("United States", "Oregon", "Portland", "97229", 45.5480, -122.8100, 0.6),
    ("United States", "Oklahoma", "Oklahoma City", "73099", 35.5339, -97.7659, 0.6),
    ("United States", "Connecticut", "Bridgeport", "06606", 41.2093, -73.2087, 0.3),
    ("United States", "Utah", "Salt Lake City", "84118", 40.6530, -112.0135, 0.3),
    ("United States", "Nevada", "Las Vegas", "89110", 36.1714, -115.0449, 0.6),
    ("United States", "Iowa", "Des Moines", "50310", 41.6252, -93.6741, 0.2),
    ("United States", "New Mexico", "Albuquerque", "87121", 35.0887, -106.8959, 0.3),
    ("United States", "Hawaii", "Waipahu", "96797", 21.4025, -158.0412, 0.1),
    ("United States", "Alaska", "Anchorage", "99504", 61.2040, -149.7447, 0.1),
]
# Remaining US states' shares (%) of US users after the four big ones.
US_OTHER_STATES = {
    "Pennsylvania": 4.5, "Illinois": 4.3, "Ohio": 3.8, "Georgia": 3.6, "North Carolina": 3.5,
    "Michigan": 3.2, "New Jersey": 3.0, "Virginia": 2.9, "Washington": 2.6, "Arizona": 2.5,
    "Massachusetts": 2.3, "Tennessee": 2.3, "Indiana": 2.2, "Missouri": 2.0, "Maryland": 2.0,
    "Wisconsin": 1.9, "Colorado": 1.8, "Minnesota": 1.8, "South Carolina": 1.6, "Alabama": 1.6,
    "Louisiana": 1.5, "Kentucky": 1.4, "Oregon": 1.3, "Oklahoma": 1.3, "Connecticut": 1.1, "Utah": 1.0,
    "Nevada": 1.0, "Iowa": 1.0, "New Mexico": 0.7, "Hawaii": 0.5, "Alaska": 0.3,
}


# =========================================================================================================
# helpers
# =========================================================================================================
def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _epoch_seconds(day: date) -> int:
    return (day - EPOCH).days * DAY


def _take(values: list[str], idx: np.ndarray) -> pa.Array:
    """values[idx] as a string array (decoding a dictionary array is far faster than pc.take)."""
    indices = pa.array(np.asarray(idx, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array(values, type=pa.string())).cast(pa.string())


def _uniform_int(rng: np.random.Generator, low, high) -> np.ndarray:
    """randrange(low, high) per element for array bounds; floor(u * span) is ~15x faster than integers()."""
    low = np.asarray(low, dtype=np.int64)
    span = np.asarray(high, dtype=np.int64) - low
    draw = np.floor(rng.random(np.broadcast(low, span).shape) * span).astype(np.int64)
    return low + np.minimum(draw, span - 1)


def _stable_order(key: np.ndarray) -> np.ndarray:
    """The permutation that sorts `key`, ties by position (= argsort(kind="stable"), about twice as fast)."""
    n = key.size
    if n == 0:
        return np.empty(0, dtype=np.int64)
    shift = max(int(n - 1).bit_length(), 1)
    rel = key - key.min()
    if int(rel.max()).bit_length() + shift > 62:
        return np.argsort(key, kind="stable")
    # Position packed into the low bits makes every key unique, so a fast unstable sort is exact.
    packed = np.sort((rel << shift) | np.arange(n, dtype=np.int64))
    return packed & ((1 << shift) - 1)


def _join(*parts, sep: str = "") -> pa.Array:
    return pc.binary_join_element_wise(*parts, sep, null_handling="skip")


def _zipf_weights(n: int, offset: float = 8.0) -> np.ndarray:
    # Faker draws common names more often; a mild rank weighting stands in for its frequency tables.
    w = 1.0 / (np.arange(n) + offset)
    return w / w.sum()


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` into integer parts proportional to `weights` (largest remainder, ties by position)."""
    raw = total * weights / weights.sum()
    counts = np.floor(raw).astype(np.int64)
    rest = total - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


# =========================================================================================================
# catalogue
# =========================================================================================================
def build_brand_names(rng: np.random.Generator) -> list[str]:
    """2,756 distinct brand names: the big three, real apparel brands, then invented ones."""
    taken = [b for b, _, _ in BIG_BRANDS] + REAL_BRANDS
    need = TOTAL_BRANDS - len(taken)
    stems = np.array([p + s for p in BRAND_PREFIXES for s in BRAND_SUFFIXES])
    grid = np.array([stem + tail for tail in BRAND_TAILS for stem in stems])
    grid = grid[~np.isin(grid, taken)]
    picked = grid[np.sort(rng.choice(grid.size, size=need, replace=False))]
    return taken + picked.tolist()


def build_catalogue() -> tuple[pa.Table, dict[str, np.ndarray]]:
    """The static product catalogue and the per-product arrays the order generator needs."""
    rng = np.random.default_rng(CATALOGUE_SEED)
    # Ids grouped by category, then department, like a catalogue export sorted by category.
    cells = sorted(range(len(CATALOGUE_CELLS)), key=lambda c: (CATALOGUE_CELLS[c][1], CATALOGUE_CELLS[c][0]))
    n_total = sum(c[2] for c in CATALOGUE_CELLS)
    cell_of = np.repeat(np.array(cells), [CATALOGUE_CELLS[c][2] for c in cells])
    retail = np.empty(n_total)
    ratio = np.empty(n_total)
    start = 0
    for c in cells:
        _, _, n, mean, std, lo, hi, cost_ratio = CATALOGUE_CELLS[c]
        # Lognormal with the cell's mean and std, clipped to its observed range.
        s2 = np.log1p((std / mean) ** 2)
        draw = rng.lognormal(np.log(mean) - s2 / 2, np.sqrt(s2), size=n)
        retail[start:start + n] = np.round(np.clip(draw, lo, hi), 2)
        noise = rng.normal(0, COST_RATIO_NOISE, size=n)
        ratio[start:start + n] = np.clip(cost_ratio + noise, *COST_RATIO_CLIP)
        start += n
    # Floor to the cent so rounding can never lift cost above the markup floor.
    cost = np.maximum(np.floor(np.round(retail * ratio * 100, 6)) / 100, 0.01)

    dept = np.array([CATALOGUE_CELLS[c][0] for c in range(len(CATALOGUE_CELLS))])[cell_of]
    category = np.array([CATALOGUE_CELLS[c][1] for c in range(len(CATALOGUE_CELLS))])[cell_of]
    is_women = dept == "Women"

    # Brands: skewed counts (big three pinned), each brand leaning to one department.
    brands = build_brand_names(rng)
    n_small = TOTAL_BRANDS - len(BIG_BRANDS)
    small_total = n_total - NULL_BRANDS - sum(n for _, n, _ in BIG_BRANDS)
    rank_w = (np.arange(1, n_small + 1) + 20.0) ** -1.05
    counts = np.concatenate([[n for _, n, _ in BIG_BRANDS], 1 + _allocate(small_total - n_small, rank_w)])
    women_share = np.concatenate([[w for _, _, w in BIG_BRANDS], rng.beta(0.5, 0.5, size=n_small)])
    slot_brand = np.repeat(np.arange(TOTAL_BRANDS), counts)
    # Rank slots by a noisy women-lean; the top ones fill the Women products, the rest the Men ones.
    lean = women_share[slot_brand] + rng.uniform(-0.5, 0.5, size=slot_brand.size)
    lean[women_share[slot_brand] == 0.0] = -np.inf  # a pinned share of 0 (Carhartt): Men only
    slot_order = np.argsort(-lean, kind="stable")
    null_brand = np.zeros(n_total, dtype=bool)
    null_brand[rng.choice(n_total, size=NULL_BRANDS, replace=False)] = True
    brand_idx = np.full(n_total, -1, dtype=np.int64)
    women_slots = int((is_women & ~null_brand).sum())
    for want_women, slots in ((True, slot_order[:women_slots]), (False, slot_order[women_slots:])):
        targets = np.flatnonzero((is_women == want_women) & ~null_brand)
        brand_idx[rng.permutation(targets)] = slot_brand[slots]
    brand_arr = pc.if_else(pa.array(null_brand), pa.nulls(n_total, pa.string()),
                           _take(brands, np.maximum(brand_idx, 0)))

    # Names: brand + optional department + optional descriptor + a category noun.
    noun_idx = np.empty(n_total, dtype=np.int64)
    noun_list: list[str] = []
    for c in cells:
        d, cat = CATALOGUE_CELLS[c][:2]
        nouns = DEPT_CATEGORY_NOUNS.get((d, cat), CATEGORY_NOUNS[cat])
        mask = cell_of == c
        noun_idx[mask] = len(noun_list) + rng.integers(0, len(nouns), size=int(mask.sum()))
        noun_list += nouns
    possessive = pc.if_else(pa.array(rng.random(n_total) < 0.5),
                            pa.array(np.where(is_women, "Women's", "Men's")), pa.nulls(n_total, pa.string()))
    descriptor = pc.if_else(pa.array(rng.random(n_total) < 0.8),
                            _take(NAME_DESCRIPTORS, rng.integers(0, len(NAME_DESCRIPTORS), size=n_total)),
                            pa.nulls(n_total, pa.string()))
    name = _join(brand_arr, possessive, descriptor, _take(noun_list, noun_idx), sep=" ")
    null_name = np.zeros(n_total, dtype=bool)
    null_name[rng.choice(n_total, size=NULL_NAMES, replace=False)] = True
    name = pc.if_else(pa.array(null_name), pa.nulls(n_total, pa.string()), name)

    # sku: 32 hex digits from 16 random bytes per product.
    sku_hex = rng.integers(0, 256, size=(n_total, 16), dtype=np.uint8).tobytes().hex()
    sku = pa.array(np.frombuffer(sku_hex.encode(), dtype="S32").astype(str))

    dc_ids = np.array([d[0] for d in DISTRIBUTION_CENTERS])
    other = np.array([DC_OTHER_WEIGHTS.get(i, 0.0) for i in dc_ids])
    dc_counts = _allocate(n_total - DC_CHICAGO_PRODUCTS, other)
    dc_counts[dc_ids == 2] = DC_CHICAGO_PRODUCTS
    dc = rng.permutation(np.repeat(dc_ids, dc_counts))

    ids = np.arange(1, n_total + 1, dtype=np.int64)
    table = _table("products", {
        "id": ids, "cost": cost, "category": pa.array(category), "name": name, "brand": brand_arr,
        "retail_price": retail, "department": pa.array(dept), "sku": sku, "distribution_center_id": dc,
    })
    arrays = {"retail_price": retail, "cell": cell_of, "is_women": is_women}
    return table, arrays


def build_distribution_centers() -> pa.Table:
    return _table("distribution_centers", {
        "id": np.array([d[0] for d in DISTRIBUTION_CENTERS], dtype=np.int64),
        "name": pa.array([d[1] for d in DISTRIBUTION_CENTERS]),
        "latitude": np.array([d[2] for d in DISTRIBUTION_CENTERS]),
        "longitude": np.array([d[3] for d in DISTRIBUTION_CENTERS]),
    })


# =========================================================================================================
# users
# =========================================================================================================
def location_weights() -> np.ndarray:
    """Probability of each LOCATIONS row: country share x share within the country (US: within the state)."""
    country = np.array([loc[0] for loc in LOCATIONS])
    state = np.array([loc[1] for loc in LOCATIONS])
    w = np.array([loc[6] for loc in LOCATIONS], dtype=float)
    p = np.zeros(len(LOCATIONS))
    # The big four keep their shares; the other states split what is left in proportion.
    rest = (100.0 - sum(US_STATE_SHARES.values())) / sum(US_OTHER_STATES.values())
    us_states = {**US_STATE_SHARES, **{st: share * rest for st, share in US_OTHER_STATES.items()}}
    for name, share in COUNTRY_SHARES.items():
        in_country = country == name
        if name == "United States":
            for st, st_share in us_states.items():
                in_state = in_country & (state == st)
                p[in_state] = share * st_share / 100.0 * w[in_state] / w[in_state].sum()
        else:
            p[in_country] = share * w[in_country] / w[in_country].sum()
    return p / p.sum()


def build_users(n: int, seed: int, end_s: int) -> tuple[pa.Table, dict[str, np.ndarray]]:
    rng = _rng(seed, STREAM_USERS)
    is_male = rng.random(n) < 0.5
    first_m = rng.choice(len(FIRST_NAMES_MALE), size=n, p=_zipf_weights(len(FIRST_NAMES_MALE)))
    first_f = rng.choice(len(FIRST_NAMES_FEMALE), size=n, p=_zipf_weights(len(FIRST_NAMES_FEMALE)))
    first_idx = np.where(is_male, first_m, len(FIRST_NAMES_MALE) + first_f)
    first_names = FIRST_NAMES_MALE + FIRST_NAMES_FEMALE
    last_idx = rng.choice(len(LAST_NAMES), size=n, p=_zipf_weights(len(LAST_NAMES)))
    traffic = rng.choice(len(TRAFFIC_SOURCES), size=n, p=TRAFFIC_P)
    loc = rng.choice(len(LOCATIONS), size=n, p=location_weights())
    age = rng.integers(AGE_MIN, AGE_MAX + 1, size=n)

    # Signup: 2019-01-01 + randrange(1, days) days + randrange(1140) min; 2.5 % start from end - 7 days.
    start_s = _epoch_seconds(SIGNUP_START)
    span_days = max((end_s - start_s) // DAY, 2)
    recent = rng.random(n) < RECENT_SIGNUP_P
    base = np.where(recent, end_s - 7 * DAY, start_s)
    days = np.where(recent, rng.integers(1, 7, size=n), rng.integers(1, span_days, size=n))
    signup = base + days * DAY + rng.integers(0, SIGNUP_MINUTES, size=n) * 60

    first = _take(first_names, first_idx)
    last = _take(LAST_NAMES, last_idx)
    domain = _take(EMAIL_DOMAINS, rng.integers(0, len(EMAIL_DOMAINS), size=n))
    # fake.py: first_name.lower() + last_name.lower() + "@" + safe domain
    email = _join(pc.utf8_lower(first), pc.utf8_lower(last), "@", domain)

    # faker en_US street_address: "<3-5 digits> <name> <suffix>", half with "Apt. ###" / "Suite ###".
    digits = rng.integers(3, 6, size=n)
    number = _uniform_int(rng, 10 ** (digits - 1), 10 ** digits)
    street_name = rng.integers(0, len(first_names) + len(LAST_NAMES), size=n)  # faker: any first or last name
    suffix = _take(STREET_SUFFIXES, rng.integers(0, len(STREET_SUFFIXES), size=n))
    secondary = pc.if_else(
        pa.array(rng.random(n) < 0.5),
        _join(_take(["Apt.", "Suite"], rng.integers(0, 2, size=n)), " ",
              pc.cast(pa.array(rng.integers(100, 1000, size=n)), pa.string())),
        pa.nulls(n, pa.string()),
    )
    street = _join(pc.cast(pa.array(number), pa.string()), _take(first_names + LAST_NAMES, street_name),
                   suffix, secondary, sep=" ")

    table = _table("users", {
        "id": np.arange(1, n + 1, dtype=np.int64),
        "first_name": first, "last_name": last, "email": email, "age": age,
        "gender": _take(GENDERS, is_male),
        "state": _take([x[1] for x in LOCATIONS], loc),
        "street_address": street,
        "postal_code": _take([x[3] for x in LOCATIONS], loc),
        "city": _take([x[2] for x in LOCATIONS], loc),
        "country": _take([x[0] for x in LOCATIONS], loc),
        "latitude": np.array([x[4] for x in LOCATIONS])[loc],
        "longitude": np.array([x[5] for x in LOCATIONS])[loc],
        "traffic_source": _take(TRAFFIC_SOURCES, traffic),
        "created_at": _ts(signup),
    })
    return table, {"is_male": is_male, "signup": signup}


# =========================================================================================================
# shop: latent value and tastes
# =========================================================================================================
def tier_of(z: np.ndarray) -> np.ndarray:
    """0 = low, 1 = mid, 2 = high value tier."""
    return (z >= SHOP_TIER_LOW_Z).astype(np.int8) + (z >= SHOP_TIER_HIGH_Z)


def tier_category_mix(department: str) -> tuple[list[int], np.ndarray]:
    """The department's cells and, per tier, the mean category mix: product-count shares x tier tilt."""
    cells = [c for c, cell in enumerate(CATALOGUE_CELLS) if cell[0] == department]
    base = np.array([CATALOGUE_CELLS[c][2] for c in cells], dtype=float)
    mix = np.empty((len(TIERS), len(cells)))
    for t, tier in enumerate(TIERS):
        tilt = SHOP_TILT[tier]
        mult = np.ones(len(cells))
        for k, c in enumerate(cells):
            cat = CATALOGUE_CELLS[c][1]
            if cat in tilt:
                mult[k] = tilt[cat]
            elif cat in PREMIUM_CATEGORIES:
                mult[k] = tilt["premium"]
            elif cat in BARGAIN_CATEGORIES:
                mult[k] = tilt["bargain"]
        w = base * mult
        mix[t] = w / w.sum()
    return cells, mix


def draw_shop_products(rng, item_user, user_z, user_is_male, catalogue) -> np.ndarray:
    """Product index per item: category from the user's Dirichlet taste, price rank tilted by value."""
    n_users, n_items = user_z.size, item_user.size
    is_buyer = np.bincount(item_user, minlength=n_users) > 0
    tier = tier_of(user_z)
    item_male = user_is_male[item_user]
    u = rng.random(n_items, dtype=np.float32)
    cell = np.empty(n_items, dtype=np.int64)
    for department, male in (("Men", True), ("Women", False)):
        cells, mix = tier_category_mix(department)
        buyers = np.flatnonzero(is_buyer & (user_is_male == male))
        # Dirichlet(concentration x tier mix) per buyer via normalised gammas, one category per row so
        # that the per-item lookups below read contiguous memory; float32 halves that memory.
        taste = np.empty((len(cells), buyers.size), dtype=np.float32)
        buyer_tier = tier[buyers]
        for t in range(len(TIERS)):
            in_tier = np.flatnonzero(buyer_tier == t)
            for j in range(len(cells)):
                shape = SHOP_TASTE_CONCENTRATION * mix[t, j]
                taste[j, in_tier] = rng.standard_gamma(shape, size=in_tier.size, dtype=np.float32)
        np.cumsum(taste, axis=0, out=taste)
        taste /= taste[-1]
        row_of = np.zeros(n_users, dtype=np.int64)
        row_of[buyers] = np.arange(buyers.size)
        mine = np.flatnonzero(item_male == male)
        row = row_of[item_user[mine]]
        v = u[mine]
        # Inverse CDF: the category is the number of cumulative shares at or below u.
        local = np.zeros(mine.size, dtype=np.int64)
        for j in range(len(cells) - 1):
            local += taste[j][row] <= v
        cell[mine] = np.array(cells)[local]
        del taste, row_of, row, v, local

    # Within the cell: products ranked by price; quantile u ** exp(-tilt * z) favours dear items for high z.
    by_price = np.lexsort((np.arange(catalogue["cell"].size), catalogue["retail_price"], catalogue["cell"]))
    cell_n = np.bincount(catalogue["cell"], minlength=len(CATALOGUE_CELLS))
    cell_start = np.concatenate([[0], np.cumsum(cell_n)[:-1]])
    exponent = np.exp(-SHOP_PRICE_TILT * user_z)[item_user]
    q = np.exp(exponent * np.log1p(-rng.random(n_items)))  # 1 - u: never log(0)
    n_in_cell = cell_n[cell]
    rank = np.minimum((q * n_in_cell).astype(np.int64), n_in_cell - 1)
    return by_price[cell_start[cell] + rank]


# =========================================================================================================
# orders and items
# =========================================================================================================
def build_orders(users: dict, seed: int, profile: str, end_s: int) -> tuple[pa.Table, dict]:
    """Orders generated user by user (as fake.py does), then numbered 1..M in order of creation."""
    n_users = users["signup"].size
    rng = _rng(seed, STREAM_ORDERS)
    state: dict = {}
    if profile == "shop":
        rng_s = _rng(seed, STREAM_SHOP)
        z = rng_s.standard_normal(n_users)
        value = np.exp(SHOP_VALUE_SIGMA * z)
        buyer = rng_s.random(n_users) < SHOP_BUYER_P
        rate = np.minimum(SHOP_ORDERS_LAMBDA * value, SHOP_ORDERS_RATE_MAX)
        n_orders = np.where(buyer, np.minimum(1 + rng_s.poisson(rate), SHOP_ORDERS_MAX), 0)
        del rate
        state.update(rng_shop=rng_s, z=z)
    else:
        n_orders = rng.choice(ORDERS_PER_USER, size=n_users, p=ORDERS_PER_USER_P)

    order_user = np.repeat(np.arange(n_users), n_orders)
    m = order_user.size
    signup = users["signup"][order_user]
    created = signup + _uniform_int(rng, 0, end_s - signup)  # randrange(seconds from signup to "now")
    del signup
    status = rng.choice(len(STATUSES), size=m, p=STATUS_P)
    ship = created + rng.integers(0, SHIP_MAX_MIN, size=m) * 60
    deliver = ship + rng.integers(0, DELIVER_MAX_MIN, size=m) * 60
    ret = deliver + rng.integers(0, RETURN_MAX_MIN, size=m) * 60
    if profile == "shop":
        lam = SHOP_ITEMS_LAMBDA * value[order_user] ** SHOP_ITEMS_EXP
        n_items = np.minimum(1 + rng_s.poisson(lam), SHOP_ITEMS_MAX)
        del lam
    else:
        n_items = rng.choice(ITEMS_PER_ORDER, size=m, p=ITEMS_PER_ORDER_P)

    chrono = _stable_order(created)  # ties keep user, then draw order
    order_user, created, status = order_user[chrono], created[chrono], status[chrono]
    ship, deliver, ret, n_items = ship[chrono], deliver[chrono], ret[chrono], n_items[chrono]
    del chrono

    no_ship = (status == STATUSES.index("Processing")) | (status == STATUSES.index("Cancelled"))
    no_deliver = no_ship | (status == STATUSES.index("Shipped"))
    no_return = status != STATUSES.index("Returned")
    table = _table("orders", {
        "order_id": np.arange(1, m + 1, dtype=np.int64),
        "user_id": order_user + 1,
        "status": _take(STATUSES, status),
        "gender": _take(GENDERS, users["is_male"][order_user]),
        "created_at": _ts(created),
        "returned_at": _ts(ret, no_return),
        "shipped_at": _ts(ship, no_ship),
        "delivered_at": _ts(deliver, no_deliver),
        "num_of_item": n_items,
    })
    state.update(user=order_user, created=created, status=status, ship=ship, deliver=deliver, ret=ret,
                 no_ship=no_ship, no_deliver=no_deliver, no_return=no_return, n_items=n_items)
    return table, state


def build_items(orders: dict, users: dict, catalogue: dict, seed: int, profile: str) -> pa.Table:
    """num_of_item items per order, generated order by order, then numbered 1..K in order of creation."""
    rng = _rng(seed, STREAM_ITEMS)
    item_order = np.repeat(np.arange(orders["user"].size), orders["n_items"])
    k = item_order.size
    item_user = orders["user"][item_order]
    if profile == "shop":
        product = draw_shop_products(orders["rng_shop"], item_user, orders["z"], users["is_male"], catalogue)
    else:
        # A uniform draw from the user's department, with replacement.
        men = np.flatnonzero(~catalogue["is_women"])
        women = np.flatnonzero(catalogue["is_women"])
        male = users["is_male"][item_user]
        r = _uniform_int(rng, 0, np.where(male, men.size, women.size))
        product = np.where(male, men[np.minimum(r, men.size - 1)], women[np.minimum(r, women.size - 1)])
        del male, r

    # created_at = order - randrange(4 h), then the click-stream: 5 events x randrange(180) s for a 1-item
    # order; 3n events x randrange(180) s plus randrange(5) whole days for each item of an n-item order.
    n_of_order = orders["n_items"][item_order]
    steps = np.where(n_of_order == 1, 5, 3 * n_of_order)
    clicks = np.empty(k, dtype=np.int64)
    for m in np.unique(steps):  # a handful of distinct step counts
        sel = np.flatnonzero(steps == m)
        draws = rng.integers(0, EVENT_STEP_MAX_S, size=(sel.size, int(m)), dtype=np.uint8)
        clicks[sel] = draws.sum(axis=1, dtype=np.int64)
    del steps
    extra_days = np.where(n_of_order > 1, rng.integers(0, 5, size=k), 0)
    backdate = rng.integers(0, ITEM_BACKDATE_MAX_S, size=k)
    created = orders["created"][item_order] - backdate + clicks + extra_days * DAY
    del backdate, clicks, extra_days, n_of_order

    chrono = _stable_order(created)  # ties keep order id, then position in the order
    item_order, created = item_order[chrono], created[chrono]
    product, item_user = product[chrono], item_user[chrono]
    del chrono
    # fake.py numbers inventory rows per item (1 sold + 1-3 unsold stubs) and leaves inventory_item_id on
    # the last stub; the same running count gives unique ids with the same gaps.
    inventory_id = np.cumsum(1 + rng.choice(UNSOLD_STUBS, size=k, p=UNSOLD_STUBS_P))

    return _table("order_items", {
        "id": np.arange(1, k + 1, dtype=np.int64),
        "order_id": item_order + 1,
        "user_id": item_user + 1,
        "product_id": product + 1,
        "inventory_item_id": inventory_id,
        "status": _take(STATUSES, orders["status"][item_order]),
        "created_at": _ts(created),
        "shipped_at": _ts(orders["ship"][item_order], orders["no_ship"][item_order]),
        "delivered_at": _ts(orders["deliver"][item_order], orders["no_deliver"][item_order]),
        "returned_at": _ts(orders["ret"][item_order], orders["no_return"][item_order]),
        "sale_price": catalogue["retail_price"][product],
    })


# =========================================================================================================
# tables and files
# =========================================================================================================
ARROW_TYPES = {
    "BIGINT": pa.int64(), "VARCHAR": pa.string(), "DOUBLE": pa.float64(), "TIMESTAMP": pa.timestamp("us"),
}


DICTIONARY_COLUMNS = frozenset({
    "first_name", "last_name", "gender", "state", "postal_code", "city", "country", "traffic_source",
    "status", "category", "brand", "department",
})


def _ts(seconds: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(seconds * 1_000_000, type=pa.timestamp("us"), mask=null)


def _table(name: str, columns: dict) -> pa.Table:
    layout = TABLES[name]
    if list(columns) != list(layout):
        raise ValueError(f"{name}: columns {list(columns)} differ from thelook_schema {list(layout)}")
    arrays = []
    for col, duck_type in layout.items():
        value = columns[col]
        arr = value if isinstance(value, pa.Array) else pa.array(value)
        arrays.append(arr.cast(ARROW_TYPES[duck_type]))
    schema = pa.schema([pa.field(c, ARROW_TYPES[t]) for c, t in layout.items()])
    return pa.Table.from_arrays(arrays, schema=schema)


def _bigquery_timestamps(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """`2024-01-05 10:11:12 UTC`, with `.ffffff` only when the value has fractional seconds."""
    # Arrow's timestamp-to-string cast writes exactly this layout, ~25x faster than strftime.
    whole = pc.cast(pc.floor_temporal(col, unit="second"), pa.timestamp("s"))
    text = pc.cast(whole, pa.string())
    fractional = pc.not_equal(col, pc.cast(whole, col.type))
    if pc.any(fractional).as_py():
        text = pc.if_else(fractional, pc.cast(col, pa.string()), text)
    return pc.binary_join_element_wise(text, " UTC", "")


def write_table(table: pa.Table, folder: Path, name: str, formats: tuple[str, ...]) -> None:
    """One table per file. Fixed writer options and row-group size: the bytes depend only on the data."""
    table = table.combine_chunks()
    if "parquet" in formats:
        # Dictionary encoding pays off for repetitive strings only; ids, timestamps, emails are near-unique.
        repetitive = [c for c in table.column_names if c in DICTIONARY_COLUMNS]
        pq.write_table(table, folder / f"{name}.parquet", compression="zstd",
                       row_group_size=PARQUET_ROW_GROUP, use_dictionary=repetitive, write_statistics=True)
    if "csv" in formats:
        cols = [
            _bigquery_timestamps(table[c]) if pa.types.is_timestamp(table.schema.field(c).type) else table[c]
            for c in table.column_names
        ]
        pacsv.write_csv(pa.table(cols, names=table.column_names), folder / f"{name}.csv",
                        pacsv.WriteOptions(include_header=True, delimiter=",", quoting_style="needed"))


# =========================================================================================================
# entry points
# =========================================================================================================
def _normalise_formats(formats) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = FORMATS if formats == "both" else (formats,)
    unknown = set(formats) - set(FORMATS)
    out = tuple(f for f in FORMATS if f in set(formats))
    if unknown or not out:
        raise ValueError(f"formats must be a non-empty subset of {FORMATS} (or 'both'), got {formats!r}")
    return out


def generate(out_dir, users: int = 100_000, seed: int = 42, profile: str = "shop",
             end_date: str = DEFAULT_END_DATE, formats=("parquet",)) -> dict[str, int]:
    """Write the five tables (and `_manifest.json`) into `out_dir`; return the row count per table.

    The folder is built as a hidden sibling and renamed into place only when complete, so an interrupted
    run leaves any previous folder untouched.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    if isinstance(users, bool) or int(users) != users or users < 1:
        raise ValueError(f"users must be a positive integer, got {users!r}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    users, seed = int(users), int(seed)
    end = date.fromisoformat(str(end_date))
    if (end - SIGNUP_START).days < 10:
        raise ValueError("end_date must be at least 10 days after 2019-01-01")
    formats = _normalise_formats(formats)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "_manifest.json").exists())):
        raise FileExistsError(f"{out} exists and is not a generated thelook folder (no _manifest.json); "
                              "refusing to replace it")

    end_s = _epoch_seconds(end)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    rows: dict[str, int] = {}
    try:
        # Files are written in background threads while the next table is computed (pyarrow and numpy
        # release the GIL); each file has one writer, so its bytes do not depend on the scheduling.
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending = []

            def submit(name: str, table: pa.Table) -> None:
                rows[name] = table.num_rows
                pending.append(pool.submit(write_table, table, tmp, name, formats))

            products, catalogue = build_catalogue()
            submit("products", products)
            submit("distribution_centers", build_distribution_centers())
            user_table, user_arrays = build_users(users, seed, end_s)
            submit("users", user_table)
            orders_table, orders = build_orders(user_arrays, seed, profile, end_s)
            submit("orders", orders_table)
            submit("order_items", build_items(orders, user_arrays, catalogue, seed, profile))
            del products, user_table, orders_table, orders
            for future in pending:
                future.result()
        rows = {name: rows[name] for name in TABLES}
        manifest = {
            "generator": "scripts/generate_thelook.py",
            "generator_version": GENERATOR_VERSION,
            "profile": profile,
            "users": users,
            "seed": seed,
            "end_date": end.isoformat(),
            "formats": list(formats),
            "catalogue_seed": CATALOGUE_SEED,
            "rows": rows,
        }
        (tmp / "_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate thelook_ecommerce-shaped raw tables (see docs/generator.md).")
    parser.add_argument("--out", default="data/thelook",
                        help="output folder, replaced on success (default data/thelook)")
    parser.add_argument("--users", type=int, default=100_000, help="number of users (default 100000)")
    parser.add_argument("--seed", type=int, default=42, help="seed for users and orders (default 42)")
    parser.add_argument("--profile", choices=PROFILES, default="shop", help="shop (default) or thelook")
    parser.add_argument("--end-date", default=DEFAULT_END_DATE,
                        help=f"the data's 'now', YYYY-MM-DD (default {DEFAULT_END_DATE})")
    parser.add_argument("--format", choices=("parquet", "csv", "both"), default="parquet",
                        help="file format (default parquet)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        rows = generate(args.out, users=args.users, seed=args.seed, profile=args.profile,
                        end_date=args.end_date, formats=args.format)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    print(f"wrote {args.out} (profile={args.profile}, users={args.users}, seed={args.seed}, "
          f"end_date={args.end_date}, format={args.format})")
    for name, count in rows.items():
        print(f"  {name:<22}{count:>12,} rows")
    print(f"  {'seconds':<22}{seconds:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
