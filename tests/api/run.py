"""run.py: runs every test_* function of every tests/api/test_*.py, one at a
time, and prints one line per test and a closing 'N passed, N failed'.
A test that raises harness.Skip prints 'skip' with its reason and counts in
neither number."""
import importlib.util
import os
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def check_recorded(path):
    """Every answer the tests recorded (harness.record) against
    docs/openapi.yaml; raises on the first batch of problems."""
    import openapi_check
    from harness import Skip
    try:
        n, problems = openapi_check.check_file(path)
    except openapi_check.Unavailable as e:
        raise Skip(str(e))
    assert n > 0, "no answers were recorded"
    assert not problems, "%d answers checked; off the contract:\n%s" % (
        n, "\n".join(problems[:40]))


def main(argv):
    only = argv[1:]
    # The harness records answers here; they are checked once all ran.
    fd, record = tempfile.mkstemp(prefix="gv-api-record-", suffix=".jsonl")
    os.close(fd)
    os.environ["GV_API_RECORD"] = record
    try:
        return run_all(only, record)
    finally:
        os.unlink(record)


def run_all(only, record):
    from harness import Skip
    passed = failed = skipped = 0
    for name in sorted(os.listdir(HERE)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(HERE, name))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for fn in sorted(n for n in dir(mod) if n.startswith("test_")):
            full = "%s::%s" % (name[:-3], fn)
            if only and not any(o in full for o in only):
                continue
            t0 = time.time()
            try:
                getattr(mod, fn)()
                passed += 1
                print("ok   %-60s %.2fs" % (full, time.time() - t0), flush=True)
            except Skip as e:
                skipped += 1
                print("skip %-60s %s" % (full, e), flush=True)
            except Exception:  # noqa: BLE001 - report every failure, keep going
                failed += 1
                print("FAIL %s\n%s" % (full, traceback.format_exc()), flush=True)
    # The contract check of everything recorded above, as one more test.
    if os.path.getsize(record) > 0:
        full, t0 = "openapi_check::recorded_responses", time.time()
        try:
            check_recorded(record)
            passed += 1
            print("ok   %-60s %.2fs" % (full, time.time() - t0), flush=True)
        except Skip as e:
            skipped += 1
            print("skip %-60s %s" % (full, e), flush=True)
        except Exception:  # noqa: BLE001
            failed += 1
            print("FAIL %s\n%s" % (full, traceback.format_exc()), flush=True)
    if skipped:
        print("api: %d skipped" % skipped)
    print("api: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
