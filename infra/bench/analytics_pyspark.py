"""Bench peer (a): the daily job as the original project's Databricks notebooks
wrote it, in PySpark on `local[2]` — read the raw JSON, clean with DataFrame
operations (replace placeholders, k/M follower counts, save_location path, rename
index, coordinates array, timestamps, user_name), persist the cleaned tables as
Parquet, answer the eight questions with window functions and write each answer.

usage: analytics_pyspark.py RAW_DIR OUT_DIR
"""
import sys

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

from placeholders import PLACEHOLDERS

# The input: where each kind's raw NDJSON is, `{kind}` standing for pin, geo or user
# (the bench passes the bronze objects pinpipe reads, so both read the same files).
raw, out = sys.argv[1:3]
spark = (
    SparkSession.builder.master("local[2]")
    .appName("pinpipe-bench")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.sql.shuffle.partitions", "4")
    .config("spark.ui.enabled", "false")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")



def text(c):
    t = F.trim(F.col(c).cast("string"))
    return F.when(t.isin(PLACEHOLDERS), None).otherwise(t)


df_pin = spark.read.json(raw.format(kind="pin"))
df_pin = df_pin.withColumnRenamed("index", "ind")
for c in ["unique_id", "title", "description", "poster_name", "tag_list", "is_image_or_video", "image_src", "category"]:
    df_pin = df_pin.withColumn(c, text(c))
fc = text("follower_count")
df_pin = df_pin.withColumn(
    "follower_count",
    F.when(fc.endswith("k"), (F.regexp_replace(fc, "k", "").cast("double") * 1000).cast("long"))
    .when(fc.endswith("M"), (F.regexp_replace(fc, "M", "").cast("double") * 1000000).cast("long"))
    .otherwise(fc.cast("long")),
)
df_pin = df_pin.withColumn("save_location", F.regexp_replace(text("save_location"), "Local save in ", ""))
df_pin = df_pin.withColumn("ind", F.col("ind").cast("long")).select(
    "ind", "unique_id", "title", "description", "follower_count", "poster_name", "tag_list",
    "is_image_or_video", "image_src", "save_location", "category",
)

df_geo = spark.read.json(raw.format(kind="geo"))
df_geo = df_geo.withColumn("coordinates", F.array(F.col("latitude").cast("double"), F.col("longitude").cast("double")))
df_geo = df_geo.drop("latitude", "longitude").withColumn("timestamp", F.to_timestamp("timestamp"))
df_geo = df_geo.withColumn("country", text("country")).select(F.col("ind").cast("long"), "country", "coordinates", "timestamp")

df_user = spark.read.json(raw.format(kind="user"))
df_user = df_user.withColumn("user_name", F.concat(text("first_name"), F.lit(" "), text("last_name")))
df_user = df_user.drop("first_name", "last_name").withColumn("date_joined", F.to_timestamp("date_joined"))
df_user = df_user.select(F.col("ind").cast("long"), "user_name", F.col("age").cast("long"), "date_joined")

for name, df in [("pin", df_pin), ("geo", df_geo), ("user", df_user)]:
    df.write.mode("overwrite").parquet(f"{out}/silver_{name}")

pin = spark.read.parquet(f"{out}/silver_pin").dropDuplicates(["ind"]).cache()
geo = spark.read.parquet(f"{out}/silver_geo").dropDuplicates(["ind"]).cache()
user = spark.read.parquet(f"{out}/silver_user").dropDuplicates(["ind"]).cache()
pin_geo = pin.join(geo, "ind")
pin_user = pin.join(user, "ind")
age_group = (
    F.when(F.col("age").between(18, 24), "18-24")
    .when(F.col("age").between(25, 35), "25-35")
    .when(F.col("age").between(36, 50), "36-50")
    .when(F.col("age") > 50, "+50")
)
age_order = F.when(F.col("age").between(18, 24), 0).when(F.col("age").between(25, 35), 1).when(
    F.col("age").between(36, 50), 2
).when(F.col("age") > 50, 3)


def most_popular(df, group, item, count="category_count", order=None):
    counted = df.where(F.col(item).isNotNull()).groupBy(*group, item).agg(F.count("*").alias(count))
    w = Window.partitionBy(*group).orderBy(F.col(count).desc(), F.col(item))
    top = counted.withColumn("rank", F.row_number().over(w)).where("rank = 1").drop("rank")
    return top.orderBy(*(order or group))


def median(df, group, order):
    return df.groupBy(*group).agg(F.median(F.col("follower_count").cast("double")).alias("median_follower_count")).orderBy(*order)


with_years = pin_geo.withColumn("post_year", F.year("timestamp"))
with_age = pin_user.withColumn("age_group", age_group).withColumn("age_order", age_order).where("age_group IS NOT NULL")
joined = pin_user.withColumn("post_year", F.year("date_joined")).where(F.col("post_year").between(2015, 2020))
w3 = Window.partitionBy("country").orderBy(F.col("follower_count").desc(), F.col("poster_name"))
q3a = (
    pin_geo.where("country IS NOT NULL AND poster_name IS NOT NULL AND follower_count IS NOT NULL")
    .withColumn("rank", F.row_number().over(w3)).where("rank = 1")
    .select("country", "poster_name", "follower_count").orderBy("country")
)
answers = {
    "q1_category_by_country": most_popular(pin_geo.where("country IS NOT NULL"), ["country"], "category"),
    "q2_category_by_year": most_popular(with_years.where(F.col("post_year").between(2018, 2022)), ["post_year"], "category"),
    "q3a_top_user_by_country": q3a,
    "q3b_top_country": q3a.orderBy(F.col("follower_count").desc(), "country").limit(1).select("country", "follower_count"),
    "q4_category_by_age_group": most_popular(with_age, ["age_order", "age_group"], "category").drop("age_order"),
    "q5_median_followers_by_age_group": median(with_age, ["age_order", "age_group"], ["age_order"]).drop("age_order"),
    "q6_users_joined_by_year": user.where("user_name IS NOT NULL AND date_joined IS NOT NULL")
    .select("user_name", "date_joined").distinct()
    .withColumn("post_year", F.year("date_joined")).where(F.col("post_year").between(2015, 2020))
    .groupBy("post_year").agg(F.count("*").alias("number_users_joined")).orderBy("post_year"),
    "q7_median_followers_by_join_year": median(joined, ["post_year"], ["post_year"]),
    "q8_median_followers_by_age_group_and_join_year": median(
        joined.withColumn("age_group", age_group).withColumn("age_order", age_order).where("age_group IS NOT NULL"),
        ["age_order", "age_group", "post_year"],
        ["age_order", "post_year"],
    ).drop("age_order"),
}
for stem, df in answers.items():
    df.coalesce(1).write.mode("overwrite").parquet(f"{out}/{stem}")
print(spark.read.parquet(f"{out}/q1_category_by_country").count(), "countries")
spark.stop()
