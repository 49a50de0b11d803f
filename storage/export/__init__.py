"""Research exports shared by the API and the command line: provenance, encoders, metadata.

`provenance` adds to each exported window what a researcher needs to judge a reading (ingest's
flags, the gap before it, the site's coordinates); `encoding` writes CSV or Parquet one window at
a time; `selection` names what an export covers and how to cite it; `jsonld` describes the file
in DCAT and DataCite terms.
"""
