"""Reads Delta tables with independent readers and prints what each returns, as JSON.

Usage: delta_readers.py read <table>...             -> {table: {reader: {rows, columns} | {error}}}
       delta_readers.py write <json-command>         -> writes a table with delta-rs (reverse direction)
       delta_readers.py spark-write <json-commands>  -> writes tables with Spark (reverse direction)
       delta_readers.py sql <query>                  -> runs a DuckDB query with the delta extension loaded
       delta_readers.py serve                        -> answers the verbs above over loopback TCP

`serve` exists because starting Spark's JVM costs tens of seconds on two cores: the suite
starts one server (one Spark session, warmed up in the background) for all its files. It
prints its port, answers one JSON request line (["read", "/t1", ...]) per connection with one
JSON line ({"ok": result} or {"error": message}), and exits when its stdin closes.

Readers: delta-rs (deltalake), Polars (on delta-rs), DuckDB with the `delta` extension
(loaded from the duckdb-ext-delta wheel, no network), and Spark with delta-spark (jars in
.cache/spark-jars; one local session per process, started on first use). Values are made JSON-comparable:
timestamps as ISO-8601 UTC with microseconds, decimals and dates as strings.
"""
import base64
import datetime as dt
import decimal
import glob
import json
import os
import socketserver
import sys
import threading

import duckdb
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake


def plain(v):
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return v.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, float) and v.is_integer():
        return v
    return v


def from_arrow(table: pa.Table):
    columns = [{"name": f.name, "type": str(f.type)} for f in table.schema]
    return {"columns": columns, "rows": [{k: plain(v) for k, v in r.items()} for r in table.to_pylist()]}


def delta_extension():
    found = glob.glob(os.path.join(os.path.dirname(duckdb.__file__), "..", "duckdb_ext", "extensions", "*", "*", "delta.duckdb_extension"))
    if not found:
        raise RuntimeError("duckdb-ext-delta is not installed")
    return os.path.abspath(found[0])


def read_duckdb(path):
    con = duckdb.connect()
    con.execute(f"LOAD '{delta_extension()}'")
    return from_arrow(con.execute("SELECT * FROM delta_scan(?)", [path]).fetch_arrow_table())


_spark = None
_spark_lock = threading.Lock()


def spark():
    global _spark
    with _spark_lock:
        return _spark or _start_spark()


def _start_spark():
    global _spark
    from pyspark.sql import SparkSession
    # Loopback only: resolving this machine's name can stall for minutes without a network.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("SPARK_LOCAL_HOSTNAME", "localhost")
    jars = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", ".cache", "spark-jars", "*.jar")))
    if not jars:
        raise RuntimeError("delta-spark jars missing: run test/interop/setup.sh")
    _spark = (SparkSession.builder.master("local[1]").appName("interop")
              .config("spark.jars", ",".join(os.path.abspath(j) for j in jars))
              .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
              .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
              .config("spark.sql.session.timeZone", "UTC")
              .config("spark.ui.enabled", "false")
              .config("spark.driver.host", "127.0.0.1")
              .config("spark.driver.bindAddress", "127.0.0.1")
              .config("spark.sql.shuffle.partitions", "1")
              .config("spark.databricks.delta.snapshotPartitions", "1")
              .config("spark.ui.showConsoleProgress", "false")
              .config("spark.driver.memory", "768m")
              # Tables here hold a few rows: compiling query code (whole-stage codegen, the JIT's
              # C2 tier) costs far more CPU than interpreting it, and adaptive re-planning only
              # adds jobs.
              .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
              .config("spark.sql.codegen.wholeStage", "false")
              .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
              .config("spark.sql.adaptive.enabled", "false")
              .getOrCreate())
    _spark.sparkContext.setLogLevel("ERROR")
    return _spark


READERS = {
    "delta-rs": lambda p: from_arrow(DeltaTable(p).to_pyarrow_table()),
    "polars": lambda p: from_arrow(pl.read_delta(p).to_arrow()),
    "duckdb": read_duckdb,
    "spark": lambda p: from_arrow(spark().read.format("delta").load(p).toArrow()),
}


def read(paths):
    out = {}
    for p in paths:
        out[p] = {}
        for name, reader in READERS.items():
            try:
                out[p][name] = reader(p)
            except Exception as e:  # a reader's refusal is a finding, reported per table
                out[p][name] = {"error": f"{type(e).__name__}: {e}"[:2000]}
    return out


def write(cmd):
    """{path, mode: append|overwrite|merge, rows, partitionBy?, key?} written by delta-rs."""
    table = pa.Table.from_pylist(cmd["rows"])
    if cmd["mode"] == "merge":
        dt_ = DeltaTable(cmd["path"])
        k = cmd["key"]
        (dt_.merge(table, f"t.{k} = s.{k}", source_alias="s", target_alias="t")
            .when_matched_update_all().when_not_matched_insert_all().execute())
    else:
        write_deltalake(cmd["path"], table, mode=cmd["mode"], partition_by=cmd.get("partitionBy"))
    if cmd.get("checkpoint"):
        DeltaTable(cmd["path"]).create_checkpoint()
    return {"version": DeltaTable(cmd["path"]).version()}


def spark_write(cmds):
    """[{path, mode: append|overwrite|merge, rows, partitionBy?, key?}] written by Spark, in one session."""
    from delta.tables import DeltaTable as SparkDeltaTable
    s = spark()
    for cmd in cmds:
        df = s.createDataFrame(cmd["rows"])
        if cmd["mode"] == "merge":
            k = cmd["key"]
            (SparkDeltaTable.forPath(s, cmd["path"]).alias("t").merge(df.alias("s"), f"t.{k} = s.{k}")
                .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
        else:
            w = df.write.format("delta").mode(cmd["mode"])
            if cmd.get("partitionBy"):
                w = w.partitionBy(*cmd["partitionBy"])
            w.save(cmd["path"])
    return {"written": len(cmds)}


def versions():
    import deltalake
    import pyspark
    return {"deltalake": deltalake.__version__, "duckdb": duckdb.__version__, "polars": pl.__version__, "pyarrow": pa.__version__, "pyspark": pyspark.__version__}


def run(verb, args):
    if verb == "read":
        return read(args)
    if verb == "write":
        return write(json.loads(args[0]))
    if verb == "sql":
        con = duckdb.connect()
        con.execute(f"LOAD '{delta_extension()}'")
        return from_arrow(con.execute(args[0]).fetch_arrow_table())
    if verb == "spark-write":
        return spark_write(json.loads(args[0]))
    return versions()


class Request(socketserver.StreamRequestHandler):
    def handle(self):
        verb, *args = json.loads(self.rfile.readline())
        try:
            answer = {"ok": run(verb, args)}
        except Exception as e:  # the caller reports it; the server keeps serving
            answer = {"error": f"{type(e).__name__}: {e}"}
        self.wfile.write(json.dumps(answer).encode() + b"\n")


def serve():
    server = socketserver.TCPServer(("127.0.0.1", 0), Request)
    # The JVM starts while the suite writes its first tables; the first Spark read waits for it.
    threading.Thread(target=spark, daemon=True).start()
    # The parent owns this process: its stdin closing (the parent exited) ends the server.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve()
    else:
        json.dump(run(sys.argv[1], sys.argv[2:]), sys.stdout)
