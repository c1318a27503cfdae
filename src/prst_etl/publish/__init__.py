"""Documents and files made for people and other tools, from the warehouse's exports.

* :mod:`~prst_etl.publish.release` — ``prst publish``: a release as Hive-partitioned Parquet
  any engine reads, with its ``manifest.json``;
* :mod:`~prst_etl.publish.datapackage` — the Frictionless Data Package that describes it.
"""
