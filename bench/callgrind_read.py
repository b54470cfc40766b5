#!/usr/bin/env python3
"""callgrind_read.py: instruction counts of one load under callgrind, for
before/after comparisons that hold on a loaded machine (see
profile-audited-read.md). Never part of `make test`.
    python3 bench/callgrind_read.py read|health|spread OUTFILE
then: callgrind_annotate --inclusive=yes OUTFILE"""
import json, os, subprocess, tempfile, time, urllib.request, socket, shutil, sys, re
BIN=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "groupvaultd")
what=sys.argv[1]  # read | health | spread
out=sys.argv[2]
def port():
    s=socket.socket(); s.bind(("127.0.0.1",0)); p=s.getsockname()[1]; s.close(); return p
d=tempfile.mkdtemp(); p=port()
env=dict(os.environ, GROUP_ID="g", AUTH_TOKEN="a"*24, DATA_DIR=d, PORT=str(p), QUIET="1", KDF_MEMORY_KIB="1024", KDF_ITERATIONS="1", KDF_PARALLELISM="1", TOKEN_ISSUE_PER_HOUR="100000", SECCOMP="0")
pr=subprocess.Popen(["valgrind","--tool=callgrind","--instr-atstart=no","--callgrind-out-file="+out, BIN], env=env, stderr=subprocess.DEVNULL)
for _ in range(600):
    try: socket.create_connection(("127.0.0.1",p)).close(); break
    except OSError: time.sleep(0.1)
def req(m, path, body=None, h=None):
    r=urllib.request.Request("http://127.0.0.1:%d%s"%(p,path), method=m, data=json.dumps(body).encode() if body is not None else None, headers=h or {})
    with urllib.request.urlopen(r, timeout=120) as x: return json.loads(x.read())
A={"x-auth-token":"a"*24}
req("POST","/init",{"password":"x"*20},A); req("POST","/unlock",{"password":"x"*20},A)
tok=req("POST","/tokens",{"userId":"u","permissions":["read","write"]},A)["token"]
C={"x-capability-token":tok}
n = 1000 if what=="spread" else 10
import concurrent.futures as cf
def put(i):
    for _ in range(5):
        try: return req("POST","/secrets/key%d"%i,{"value":"sk-live-0123456789abcdef0123456789"},C)
        except Exception: time.sleep(0.5)
    raise SystemExit("fill failed")
with cf.ThreadPoolExecutor(4) as ex:
    list(ex.map(put, range(n)))
subprocess.run(["callgrind_control","-i","on",str(pr.pid)], capture_output=True)
t0=time.time()
if what=="health":
    r=subprocess.run(["wrk","-t1","-c64","-d20s","http://127.0.0.1:%d/health"%p],capture_output=True,text=True).stdout
elif what=="read":
    r=subprocess.run(["wrk","-t1","-c64","-d20s","-H","x-capability-token: "+tok,"http://127.0.0.1:%d/secrets/key3"%p],capture_output=True,text=True).stdout
else:
    r=subprocess.run(["wrk","-t1","-c64","-d20s","-H","x-capability-token: "+tok,"-s",os.path.join(os.path.dirname(os.path.abspath(__file__)), "read.lua"),"http://127.0.0.1:%d"%p,"--","1000"],capture_output=True,text=True).stdout
subprocess.run(["callgrind_control","-i","off",str(pr.pid)], capture_output=True)
m=re.search(r"(\d+) requests in", r); print(what, "requests", m.group(1) if m else r)
pr.terminate(); pr.wait(); shutil.rmtree(d)
