"""``python -m bench``: run every benchmark once, print the tables, optionally write JSON.

All figures come from one run on one machine, so the ratios compare like with like.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import time
from importlib.metadata import version

from . import commit, decode, frames, rss
from .harness import make_tempdir, remove_tempdirs, scratch_root
from .report import table

FRAME_MS_AT_15FPS = 1000 / 15
TARGET_RATIO = 0.90
TARGET_RSS_MB = 120
TARGET_MQTT_RATIO = 0.50
TARGET_TRACE_RATIO = 2.0
TARGET_SCREEN_MS = 300
TARGET_CONSOLE_RATIO = 2.0
TARGET_CONSOLE_PG_MS = 300
TARGET_FIGURES_MS = 500
SECTIONS = ("decode", "hard", "commit", "rss", "mqtt", "trace", "screen", "print", "enrol", "login", "console")


def _args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--presentations", type=int, default=None, metavar="N",
                   help="presentations fed to the kiosk process for the memory test (default 10000)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: short timings, 300 presentations (unless --presentations is given)")
    p.add_argument("--json", action="store_true", help="also write every figure as JSON (stdout, or --out)")
    p.add_argument("--out", metavar="PATH", help="write the JSON here instead of stdout (implies --json)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directories (databases, logs) for inspection")
    p.add_argument("--only", metavar="LIST", default=",".join(SECTIONS),
                   help=f"comma list of sections to run (default all): {','.join(SECTIONS)}")
    args = p.parse_args(argv)
    args.only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = [x for x in args.only if x not in SECTIONS]
    if unknown or not args.only:
        p.error(f"--only: unknown section(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(SECTIONS)}")
    if args.presentations is None:
        args.presentations = 300 if args.quick else 10_000
    if args.presentations < 1:
        p.error("--presentations must be at least 1")
    return args


def _settings(quick: bool) -> dict:
    if quick:
        return {"seconds": 0.3, "min_frames": 30, "repeats": 2, "stage_seconds": 0.5, "stage_frames": 40,
                "commit_calls": 200, "stamp_calls": 50, "mqtt_events": 500, "mqtt_repeats": 1,
                "trace_sizes": [100_000, 1_000_000], "trace_persons": 50, "screen_presentations": 50,
                "print_repeats": 5, "login_requests": 40, "console_visits": 20_000, "console_persons": 5}
    return {"seconds": 3.0, "min_frames": 300, "repeats": 5, "stage_seconds": 3.0, "stage_frames": 300,
            "commit_calls": 2000, "stamp_calls": 500, "mqtt_events": 5000, "mqtt_repeats": 5,
            "trace_sizes": [1_000_000, 10_000_000], "trace_persons": 50, "screen_presentations": 200,
            "print_repeats": 50, "login_requests": 400, "console_visits": 10_000_000,
            "console_persons": 50}


def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith(("model name", "Model"))), cpu)
    except OSError:
        pass
    from hardware.decode_zbar import _zbar_version
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "zxing_cpp": version("zxing-cpp"), "pyzbar": version("pyzbar"),
            "libzbar": ".".join(map(str, _zbar_version())), "sqlite_utils": version("sqlite-utils"),
            "numpy": version("numpy"), "scratch_dir": scratch_root(),
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()), "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    args = _args(argv)
    try:
        return _run(args)
    finally:
        if not args.keep:
            remove_tempdirs()


def _run(args) -> int:
    s = _settings(args.quick)
    out = {"settings": {**s, "presentations": args.presentations, "quick": args.quick, "only": args.only},
           "machine": _machine()}
    m = out["machine"]
    print(f"checkin-kiosk bench{' (quick)' if args.quick else ''} — {m['date']}")
    print(f"{m['cpu']}, {m['cores']} cores; Python {m['python']}, zxing-cpp {m['zxing_cpp']}, pyzbar {m['pyzbar']} "
          f"(libzbar {m['libzbar']}), SQLite {m['sqlite']}, sqlite-utils {m['sqlite_utils']}; "
          f"scratch {m['scratch_dir']}")
    print(f"load average at start {m['loadavg']} (other processes share these cores: figures are this run's)\n")
    if "decode" in args.only:
        _decode_section(s, out)
    if "hard" in args.only:
        _hard_section(args.quick, out)
    if "commit" in args.only:
        _commit_section(s, out)
    if "rss" in args.only:
        _rss_section(args, out)
    if "mqtt" in args.only:
        _mqtt_section(s, out)
    if "trace" in args.only:
        _trace_section(s, out)
    if "screen" in args.only:
        _screen_section(s, out)
    if "print" in args.only:
        _print_section(s, out)
    if "enrol" in args.only:
        from . import enrol
        enrol.section(out, quick=args.quick, log=_progress)
    if "login" in args.only:
        _login_section(s, out)
    if "console" in args.only:
        _console_section(s, out)

    if args.json or args.out:
        text = json.dumps(out, ensure_ascii=False, indent=2)
        if args.out:
            with open(args.out, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            print(f"JSON written to {args.out}")
        else:
            print(text)
    return 0


def _decode_section(s: dict, out: dict) -> None:
    # 1. Decoding ------------------------------------------------------------------------------
    _progress("rendering frames …")
    scenes = {"empty": frames.empty_frames(), "code": frames.code_frames()}
    work = make_tempdir("decode")
    found = decode.check_frames(scenes)
    _progress("decoding throughput …")
    tp = decode.throughput(scenes, work, seconds=s["seconds"], min_frames=s["min_frames"], repeats=s["repeats"])
    _progress("per-stage times …")
    stages = {b: decode.stage_times(b, scenes["code"], work / f"stages-{b}", seconds=s["stage_seconds"],
                                    min_frames=s["stage_frames"]) for b in decode.BACKENDS}
    out["decode"] = {"frames_with_code_read": found, "throughput": tp, "stages_ms": stages}
    rows = []
    for b in decode.BACKENDS:
        for scene in ("empty", "code"):
            r = tp[b][scene]
            rows.append([b, "empty scene" if scene == "empty" else "with code", r["raw_fps"], r["pipeline_fps"],
                         r["ratio"], "ok" if r["ratio"] >= TARGET_RATIO else "BELOW",
                         r["raw_cpu_ms"], r["pipeline_cpu_ms"], r["cpu_ratio"]])
    raw_call = {"zxing": "zxingcpp.read_barcodes(QR, Code128; same options as the kiosk)",
                "zbar": "pyzbar.decode(QRCODE, CODE128)"}
    print(table(
        f"1. Decoding 640x480 grayscale frames — frames/s, median of {s['repeats']} rounds; in each, raw and "
        f"pipeline alternate in 0.1 s slices for ≥{s['seconds']:g} s and ≥{s['min_frames']} frames each",
        ["backend", "scene", "raw fps", "pipeline fps", "ratio", f"≥{TARGET_RATIO:.2f}",
         "raw CPU ms/f", "pipeline CPU ms/f", "CPU ratio"], rows,
        note="   raw: " + "; ".join(f"{b} = {c}" for b, c in raw_call.items()) +
             "\n   pipeline: ScanLoop.step() (replayed frames, real desk + SQLite, Cooldown 10 s, "
             "mock-pin FeedbackDevices)"
             "\n   code read in "
             + ", ".join(f"{found[b]['code']}/{len(scenes['code'])} frames by {b}" for b in found) +
             f"; codes in empty scenes: {sum(found[b]['empty'] for b in found)}"
             "\n   ratio = pipeline fps / raw fps (median of the rounds' ratios); CPU ratio = raw CPU ms / pipeline "
             "CPU ms per frame (this thread), the figure least moved by other load"
             "\n   with code = the same card held up: one check-in per cooldown; every other frame is decode + "
             "recognise + cooldown"))
    rows = []
    for stage in decode.STAGES + ("frame_total",):
        z, b = stages["zxing"][stage], stages["zbar"][stage]
        rows.append([stage, z["n"], z["p50_ms"], z["p99_ms"], z["mean_ms"],
                     b["n"], b["p50_ms"], b["p99_ms"], b["mean_ms"]])
    print(table("   Per-stage ms on the 'with code' frames, every frame taken as a new presentation "
                "(Cooldown(0); toggle in/out)",
                ["stage", "zxing n", "p50", "p99", "mean", "zbar n", "p50", "p99", "mean"], rows,
                note="   present = rules + BEGIN IMMEDIATE … COMMIT (synchronous=FULL); "
                     "feedback = FeedbackDevices.show() (gpiozero MockFactory)"))



def _hard_section(quick: bool, out: dict) -> None:
    # 1b. Hard frames --------------------------------------------------------------------------
    from . import hard
    _progress("hard frames …")
    r = hard.run(3 if quick else 12)
    out["hard"] = r
    names = ("raw zxing-cpp", "raw zbar", "kiosk")
    rows = [[d, *(c[n]["read"] for n in names), c["kiosk"]["wrong"]] for d, c in r["conditions"].items()]
    rows.append(["all", *(r["reads"][n] for n in names), r["misreads"]["kiosk"]])
    ratio = r["ratio_kiosk_raw"]
    print(table(
        f"1b. Hard frames — presentations read out of {r['per_condition']} per condition "
        f"({r['frames_per_presentation']} frames each, fresh sensor noise), every field exact",
        ["condition", *names, "kiosk misreads"], rows,
        note=f"   kiosk / raw zxing-cpp: {ratio:.2f} (target ≥ 1.25: {'ok' if ratio >= 1.25 else 'BELOW'}); "
             f"conditions below raw: {', '.join(r['below_raw']) or 'none'}; misreads: {r['misreads']}"
             f"\n   second effort's reads by technique: "
             + ", ".join(f"{k} {v}" for k, v in r["technique_reads"].items())))
    rows = []
    for scene, key in (("with a code", "frame_ms_with_code"), ("empty scene", "frame_ms_empty")):
        for name in ("raw zxing-cpp", "kiosk"):
            m = r[key][name]
            rows.append([scene, name, m["n"], m["p50_ms"], m["p99_ms"], m["max_ms"]])
    e = r["frame_ms_empty"]
    print(table(
        f"   Decode time per frame (budget {r['budget_ms']:g} ms a frame: [decoder] budget_ms)",
        ["scene", "decoder", "n", "p50 ms", "p99 ms", "max ms"], rows,
        note=f"   empty scenes, kiosk frames/s / raw frames/s (by mean time): "
             f"{e['raw zxing-cpp']['mean_ms'] / e['kiosk']['mean_ms']:.2f} (target ≥ 0.95)"))


def _commit_section(s: dict, out: dict) -> None:
    m = out["machine"]
    # 2. Commit latency ------------------------------------------------------------------------
    _progress(f"commit latency ({s['commit_calls']} check-ins each) …")
    cl = commit.commit_latency(make_tempdir("commit"), s["commit_calls"])
    stamp = decode.clock_stamp_cost(make_tempdir("stamp"), s["stamp_calls"])
    out["commit"] = {**cl, "clock_stamp": stamp}
    k, r = cl["kiosk"], cl["raw"]
    rows = [["CheckinDesk.present() (kiosk)", k["n"], k["p50_ms"], k["p99_ms"], k["max_ms"], k["mean_ms"]],
            ["raw sqlite3 3-insert txn", r["n"], r["p50_ms"], r["p99_ms"], r["max_ms"], r["mean_ms"]],
            ["ratio kiosk / raw", "", cl["ratio_p50"], cl["ratio_p99"], k["max_ms"] / r["max_ms"],
             k["mean_ms"] / r["mean_ms"]],
            ["  of which Clock.stamp() alone", stamp["n"], stamp["p50_ms"], stamp["p99_ms"], stamp["max_ms"],
             stamp["mean_ms"]]]
    verdict = "ok" if k["p99_ms"] < FRAME_MS_AT_15FPS else "OVER"
    print(table(f"2. Check-in commit latency, WAL + synchronous=FULL, distinct persons, on {m['scratch_dir']}",
                ["", "n", "p50 ms", "p99 ms", "max ms", "mean ms"], rows,
                note=f"   target: p99 well under one frame at 15 fps ({FRAME_MS_AT_15FPS:.1f} ms): "
                     f"kiosk p99 {k['p99_ms']:.1f} ms — {verdict}; outcomes {cl['outcomes']}, "
                     f"visits in DB {cl['visits_in_db']}"))



def _rss_section(args, out: dict) -> None:
    # 3. Memory of the real process ------------------------------------------------------------
    _progress(f"kiosk run --simulate, {args.presentations} presentations …")
    mem = rss.kiosk_rss(args.presentations, log=_progress)
    out["rss"] = mem
    rows = [["at start (idle)", 0, mem["baseline_rss_kb"] / 1024, ""]]
    rows += [[f"after {int(cp):,}", c["presentations"], c["rss_kb"] / 1024, c["elapsed_s"]]
             for cp, c in mem["checkpoints"].items()]
    rows.append(["peak (VmHWM)", mem["presentations"], mem["peak_rss_kb"] / 1024, mem["elapsed_s"]])
    db = mem["db"]
    print(table(f"3. Memory of `kiosk run --simulate` (real process, image-folder camera, fps 0, "
                f"presentation 0.02 s, cooldown {rss.COOLDOWN_S} s, {rss.PERSONS} persons in turn)",
                ["", "presentations", "RSS MB", "elapsed s"], rows,
                note=f"   target: peak ≤ {TARGET_RSS_MB} MB — "
                     f"{'ok' if mem['peak_rss_kb'] / 1024 <= TARGET_RSS_MB else 'OVER'}; "
                     f"{mem['presentations']:,} presentations in {mem['elapsed_s']:.0f} s ({mem['per_s']:.1f}/s), "
                     f"start-up {mem['startup_s']:.1f} s, exit code after SIGTERM {mem['exit_code']}"
                     f"\n   recorded: {db['visits']:,} visits, {db['check_ins']:,} check-ins, "
                     f"{db['check_outs']:,} check-outs, {db['refusals']:,} refusals, {db['outbox']:,} outbox rows"
))


def _mqtt_section(s: dict, out: dict) -> None:
    # 4. MQTT: uplink drain and collector ingest vs raw paho, one loopback Mosquitto ------------
    from mqtt.loopback import postgres
    from mqtt.loopback.mosquitto import LoopbackBroker

    from . import ingest, uplink

    n, repeats = s["mqtt_events"], s["mqtt_repeats"]
    work = make_tempdir("mqtt")
    broker = LoopbackBroker(work / "broker").start()
    pg, pg_note = None, postgres.unavailable_reason()
    try:
        _progress(f"uplink drain vs raw publish ({n} events × {repeats}) …")
        up = uplink.drain(broker.url, work, n, repeats)
        stores = {"sqlite": lambda r: f"sqlite://{work}/central-{r}.db"}
        if pg_note is None:
            try:
                pg = postgres.PgServer(make_tempdir("pg-ingest")).start()
                stores["postgresql"] = lambda r: pg.new_database(f"ingest_{r}")
            except Exception as exc:  # noqa: BLE001 - the SQLite row still runs
                pg_note = f"PostgreSQL did not start: {exc}"
        _progress(f"collector ingest vs raw subscriber ({n} events + {int(n * ingest.DUPLICATE_SHARE)} copies "
                  f"× {repeats}; {', '.join(stores)}) …")
        ing = ingest.ingest(broker.url, work, n, repeats, stores, log=_progress)
    finally:
        if pg is not None:
            pg.stop()
        broker.stop()
    out["mqtt"] = {"uplink": up, "ingest": ing, "postgresql": pg.version if pg else pg_note}

    def ok(ratio):
        return "ok" if ratio >= TARGET_MQTT_RATIO else "BELOW"

    rows = [["uplink outbox drain vs raw paho QoS 1 publish", up["raw_msgs_per_s"], up["uplink_msgs_per_s"],
             up["ratio"], ok(up["ratio"]), "", ""]]
    labels = {"sqlite": "collector ingest, SQLite store, vs raw paho subscriber",
              "postgresql": f"collector ingest, PostgreSQL {pg.version if pg else ''} store, vs raw subscriber"}
    for label, r in ing["stores"].items():
        rows.append([labels[label], ing["raw_msgs_per_s"], r["msgs_per_s"], r["ratio"], ok(r["ratio"]),
                     ing["raw_cpu_share"], r["cpu_share"]])
    if "postgresql" not in ing["stores"]:
        rows.append([f"collector ingest, PostgreSQL store: not run ({pg_note})", "", "", "", "", "", ""])
    print(table(
        f"4. MQTT to one loopback Mosquitto — msg/s, median of {repeats} round(s); raw and ours get the same "
        f"payloads in the same run",
        ["", "raw msg/s", "ours msg/s", "ratio", f"≥{TARGET_MQTT_RATIO:.2f}", "raw CPU", "ours CPU"], rows,
        note=f"   uplink: {up['events']} events from a kiosk DB (synchronous=FULL); raw = one paho client "
             f"publishing them, in-flight window {up['window']}, until all PUBACKed; ours = Uplink until every "
             f"outbox row is marked sent"
             f"\n   ingest: {ing['events']} real kiosk events ({ing['kiosks']} kiosks, {ing['visits']} visits: "
             f"check-ins and check-outs) + {ing['duplicates_sent']} re-sent copies = {ing['messages']} messages, "
             f"queued by the broker for each offline persistent session (MQTT v5, QoS 1, clean_start=False), "
             f"then drained; ReceiveMaximum {ing['receive_maximum']} for both"
             f"\n   raw = paho subscriber until all {ing['messages']} arrived (auto-PUBACK); ours = Collector "
             f"(defaults: batch {ing['batch_size']} / {ing['batch_ms']} ms; SQLite WAL synchronous=FULL, "
             f"PostgreSQL fsync on) until all {ing['events']} are stored, de-duplicated, kiosk-acked and PUBACKed "
             f"(its counters; store counts checked after)"
             f"\n   rate = {ing['events']} events / time from connect; CPU = CPU s / wall s (1.00 = one core busy); "
             f"the collector's counts its receiver process (MQTT) and its writer (store) together"))
    costs, labels = ing["offline_us"], list(ing["stores"])
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    phases = [("insert_events", "store: INSERT events … RETURNING, fleet"), ("track_seq", "store: _track_seq"),
              ("correct_clocks", "store: _correct_clocks"), ("rebuild_visits", "store: _rebuild_visits"),
              ("transaction", "store: BEGIN … COMMIT (durable)"), ("total", "store.ingest, total")]
    rows = [["paho receive + PUBACK (raw subscriber's CPU per message)"] + [ing["raw_cpu_us_per_msg"]] * len(labels),
            ["validate_event (no broker)"] + [costs["validate_us"]] * len(labels)]
    rows += [[name + " (no broker)"] + [costs["stores"][lb][key] for lb in labels] for key, name in phases]
    rows += [["live Collector: CPU per event (both processes)"]
             + [ing["stores"][lb]["cpu_us_per_event"] for lb in labels],
             ["live Collector: wall time per event"] + [ing["stores"][lb]["wall_us_per_event"] for lb in labels]]
    print(table(f"   Where the collector's time goes — µs per event; the same {ing['messages']} messages, store.ingest "
                f"in batches of {ing['batch_size']} on a fresh store, no broker",
                ["", *(f"{names[lb]} µs" for lb in labels)], rows,
                note=f"   raw subscriber wall time per event: {1e6 / ing['raw_msgs_per_s']:.0f} µs; the ≥"
                     f"{TARGET_MQTT_RATIO:.2f} target allows the collector "
                     f"{1e6 / ing['raw_msgs_per_s'] / TARGET_MQTT_RATIO:.0f} µs"))


def _screen_section(s: dict, out: dict) -> None:
    # 6. Commit-to-screen latency over SSE, and the page's size ---------------------------------
    from . import screen

    n = s["screen_presentations"]
    _progress(f"screen: {n} presentations, commit → SSE event read by a client …")
    r = out["screen"] = screen.run(make_tempdir("screen"), n)
    rows = [["presentation → event read (ours: recognise, commit, lights, screen event, SSE)",
             r["ours"]["p50_ms"], r["ours"]["p99_ms"], r["ours"]["max_ms"],
             "ok" if r["ours"]["p99_ms"] < TARGET_SCREEN_MS else "OVER"],
            ["  of which ScanLoop.handle (recognise + durable commit + lights)",
             r["handle"]["p50_ms"], r["handle"]["p99_ms"], r["handle"]["max_ms"], ""],
            ["  of which the web part (handle returned → event read)",
             r["after_handle"]["p50_ms"], r["after_handle"]["p99_ms"], r["after_handle"]["max_ms"], ""],
            ["raw Flask + waitress SSE (queue.put → event read)",
             r["raw"]["p50_ms"], r["raw"]["p99_ms"], r["raw"]["max_ms"], ""]]
    print(table(f"6. Kiosk screen over Server-Sent Events — ms, {n} presentations, loopback",
                ["", "p50 ms", "p99 ms", "max ms", f"<{TARGET_SCREEN_MS} ms"], rows,
                note=f"   web part / raw, p50: {r['ratio_p50']:.2f}; the kiosk page's transfer: "
                     f"{r['transfer']['bytes']:,} bytes ("
                     + ", ".join(f"{k} {v:,}" for k, v in r["transfer"]["files"].items()) + ")"))


def _print_section(s: dict, out: dict) -> None:
    # 7. Print jobs: bytes on the wire, and the cost of drawing them ------------------------------
    from . import printing

    n = s["print_repeats"]
    _progress(f"print jobs: slips and cards at {', '.join(map(str, printing.WIDTHS))} dots, {n} repeats …")
    r = out["print"] = printing.run(n)
    rows = [[f"{c['kind']} {c['width']} dots", c["height"], f"{c['bytes']:,}", c["usb_ms"], c["serial_s"],
             c["render_ms"], c["encode_ms"], c["ours_ms"], c["raw_ms"], c["ratio"]]
            for c in (r[f"{kind}_{width}"] for width in printing.WIDTHS for kind in ("slip", "card"))]
    print(table(f"7. Print jobs — one ESC/POS job each (ESC @, GS v 0 raster, feed, cut); ms are medians of {n}",
                ["", "rows", "bytes", "USB ms", "115200 s", "render ms", "encode ms", "ours ms",
                 "raw escpos ms", "ratio"], rows,
                note=f"   USB ms = bytes at ~{printing.USB_BYTES_PER_S / 1e6:g} MB/s effective (full speed); "
                     "115200 s = "
                     f"bytes x 10 bits at {printing.SERIAL_BAUD} baud; the printer's own speed comes on top"
                     "\n   ours = render_slip/render_card + job_bytes (python-escpos encodes the job); raw = "
                     "python-escpos's Dummy printing the same finished image directly; ratio = ours / raw"))


def _login_section(s: dict, out: dict) -> None:
    # 9. A logged-in staff page while failed logins flood the kiosk ------------------------------
    from . import login

    n = s["login_requests"]
    _progress(f"login flood: {n} staff page requests quiet, under a one-device flood, under many devices …")
    r = out["login"] = login.run(make_tempdir("login"), n)
    rows = [["ours: quiet", *(r["ours_quiet"][k] for k in ("p50_ms", "p99_ms", "max_ms")), ""],
            [f"ours: one device floods failed logins ({r['flood_threads']} connections)",
             *(r["ours_flood"][k] for k in ("p50_ms", "p99_ms", "max_ms")), r["flood_per_s"]],
            [f"ours: many devices, every attempt an argon2 check ({r['argon_threads']} threads)",
             *(r["ours_many_devices"][k] for k in ("p50_ms", "p99_ms", "max_ms")), r["many_devices_logins_per_s"]],
            ["raw Flask + waitress: quiet", *(r["raw_quiet"][k] for k in ("p50_ms", "p99_ms", "max_ms")), ""],
            ["raw Flask + waitress: the same flood (POST answered 401)",
             *(r["raw_flood"][k] for k in ("p50_ms", "p99_ms", "max_ms")), r["raw_flood_per_s"]]]
    answers = ", ".join(f"{n} × {code}" for code, n in sorted(r["flood_answers"].items()))
    print(table(f"9. A logged-in staff page (GET /staff/inside) while failed logins flood the kiosk — ms, "
                f"{n} requests one at a time, loopback",
                ["", "p50 ms", "p99 ms", "max ms", "logins/s"], rows,
                note=f"   under the one-device flood, ours / raw p50: {r['ratio_flood_p50']:.2f} (quiet: "
                     f"{r['ratio_quiet_p50']:.2f}); the flood's answers: {answers} (429 = throttled at once, "
                     f"no argon2)"
                     f"\n   audit: {r['audit_login_failed_rows']} login_failed rows for "
                     f"{sum(r['flood_answers'].values()) + r['many_devices_attempts']:,} failed attempts (one per "
                     f"device per 10 minutes, with counts)"))


def _start_postgres(name: str):
    """A throwaway PostgreSQL for a section, and None with why when there is none (its rows say so)."""
    from mqtt.loopback import postgres

    note = postgres.unavailable_reason()
    if note is not None:
        return None, note
    try:
        return postgres.PgServer(make_tempdir(name)).start(), None
    except Exception as exc:  # noqa: BLE001 - the SQLite rows still run
        return None, f"PostgreSQL did not start: {exc}"


def _trace_section(s: dict, out: dict) -> None:
    # 5. Trace query scaling --------------------------------------------------------------------

    from . import tracing

    sizes, k = s["trace_sizes"], s["trace_persons"]
    scratch = make_tempdir("trace")
    _progress(f"trace scaling: {', '.join(f'{n:,}' for n in sizes)} visits; {tracing.free_bytes(scratch) / 1e9:.1f} GB "
              f"free in {scratch.parent} …")
    pg, pg_note = _start_postgres("pg-trace")
    try:
        res = tracing.run(sizes, k, scratch, pg, log=_progress)
    finally:
        if pg is not None:
            pg.stop()
    res["postgresql"] = pg.version if pg else pg_note
    out["trace"] = res
    rows = []
    names = {"sqlite": "SQLite (default)", "postgresql": f"PostgreSQL {pg.version if pg else ''} (second store)"}
    for backend, entry in res["stores"].items():
        for r in entry["runs"]:
            if "skipped" in r:
                rows.append([names[backend], f"{r['n']:,}", r["skipped"]] + [""] * 9)
                continue
            rows.append([names[backend], f"{r['n']:,}", f"{r['venues']:,}", f"{r['persons']:,}",
                         f"{r['build_s']:.0f} ({r['insert_s']:.0f}+{r['index_s']:.0f})", r["db_bytes"] / 1e9,
                         r["index_visits_p50"], r["contacts_p50"], r["scanned_p50"], r["p50_ms"], r["p95_ms"],
                         r["repeat_p50_ms"]])
            ph = r["phone"]
            rows.append(["  by phone", "", "", "", "", "", ph["index_visits_p50"], ph["contacts_p50"],
                         ph["scanned_p50"], ph["p50_ms"], ph["p95_ms"], ph["repeat_p50_ms"]])
        for label, key in (("", ""), (" by phone", "phone_")):
            if f"{key}ratio_p50" in entry:
                verdict = "ok" if entry[f"{key}ratio_p50"] <= TARGET_TRACE_RATIO else "OVER"
                rows.append([f"  ratio {sizes[1] // sizes[0]}× visits{label}", "", "", "", "", "", "", "", "",
                             f"{entry[f'{key}ratio_p50']:.2f} {verdict}", f"{entry[f'{key}ratio_p95']:.2f}",
                             f"{entry[f'{key}ratio_repeat_p50']:.2f}"])
    if pg is None:
        rows.append([f"PostgreSQL: not run ({pg_note})"] + [""] * 11)
    lay = res["layout"]
    print(table(
        f"5. Trace query scaling — queries.trace(store, 'cccd', id, days={res['trace_days']}) for {k} typical "
        f"persons, and for {k} household phones ('phone', number): ms, first call each (median, p95) and a repeat",
        ["store", "visits", "venues", "persons", "build s (ins+idx)", "DB GB", "idx visits", "contacts",
         "walked", "p50 ms", "p95 ms", "repeat p50"], rows,
        note=f"   target: time({sizes[1]:,}) / time({sizes[0]:,}) ≤ {TARGET_TRACE_RATIO:.1f} (p50, first call); "
             f"build time is separate from the query figures"
             f"\n   synthetic visits in the collector's schema (its migrations; visit indexes dropped for the load "
             f"and re-created from the migration's SQL), rows as ingest writes them, in check-in order; events "
             f"table left empty (trace never reads it)"
             f"\n   a bigger store = a bigger deployment at the same density: {lay['visits_per_venue']:,} visits per "
             f"venue and ~{lay['visits_per_person']} per person in {lay['days']} days, {lay['visit_hours']} h each "
             f"in {lay['open_hours_a_day']} opening hours a day, 10 % auto check-outs, visits still going are open; "
             f"one household (2 persons) in {round(1 / lay['phone_households'])} checked in with its phone"
             f"\n   persons: drawn uniformly among those with a visit in the last {res['trace_days']} days; idx "
             f"visits / contacts = medians of their own visits in the window and of the contacts trace returns; "
             f"walked = "
             f"median visits the query's (venue_id, check_out_at > index start) range steps through for them"))


def _console_section(s: dict, out: dict) -> None:
    # 10. The tracing console against the engine ----------------------------------------------------

    from . import console

    scratch = make_tempdir("console")
    pg, pg_note = _start_postgres("pg-console")
    try:
        res = console.run(s["console_visits"], s["console_persons"], scratch, pg, log=_progress)
    finally:
        if pg is not None:
            pg.stop()
    out["console"] = res
    names = {"sqlite": "SQLite", "postgresql": f"PostgreSQL {pg.version if pg else ''}"}
    rows = []
    for backend, r in res["stores"].items():
        under = "" if backend != "postgresql" else (" ok" if r["api_p50_ms"] < TARGET_CONSOLE_PG_MS else " OVER")
        rows.append([f"{names[backend]}: contacts of a case ({r['contacts_p50']:.0f} contacts; its audit row's "
                     f"commit {r['audit_p50_ms']:.1f} ms)", r["api_p50_ms"],
                     r["api_p95_ms"], r["raw_p50_ms"],
                     f"{r['ratio_p50']:.2f} {'ok' if r['ratio_p50'] <= TARGET_CONSOLE_RATIO else 'OVER'}{under}"])
        figures = f"{names[backend]}: a province's daily figures ({r['province_venues']} venues × 21 days"
        ok = "ok" if max(r["stats_busy_p50_ms"], r["stats_p50_ms"]) < TARGET_FIGURES_MS else "OVER"
        rows.append([f"{figures}, {r['stats_rows']} rows), nothing changed · busy morning", r["stats_p50_ms"],
                     r["stats_busy_p50_ms"], r["stats_raw_p50_ms"], f"{r['stats_ratio']:.3f} {ok}"])
        rows.append([f"{names[backend]}: … one row a day for the province, busy morning · first load ever",
                     r["stats_province_busy_p50_ms"], r["stats_cold_ms"], "", ""])
    if pg is None:
        rows.append([f"PostgreSQL: not run ({pg_note})", "", "", "", ""])
    print(table(
        f"10. The tracing console at {res['visits']:,} stored visits — ms: the API's whole answer vs the engine "
        f"running the same statements",
        ["", "API p50", "API p95 · 2nd", "raw SQL p50", "ratio"], rows,
        note=f"   targets: contacts ≤ {TARGET_CONSOLE_RATIO:.0f}× the raw SQL and under {TARGET_CONSOLE_PG_MS} ms on "
             f"PostgreSQL; a province's daily figures under {TARGET_FIGURES_MS} ms"
             f"\n   API = GET /api/v1/contacts (token, both queries, shared time, JSON, its audit row) through the "
             f"Flask app; raw = the same SQL and parameters on a connection of the engine's own, every row fetched"
             f"\n   figures: GET /api/v1/stats for one province; busy morning = every venue of it written to today "
             f"since the last load; raw = the engine reckoning the 21 days from the visits (the cost of every load "
             f"before the store kept the figures); ratio = busy morning / raw"))


if __name__ == "__main__":
    sys.exit(main())
