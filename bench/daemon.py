# Start and round-trip figures of `serve`: standalone, connecting to a daemon it starts
# (cold), and connecting to a running daemon (warm). Usage: python3 bench/daemon.py [BIN]
import subprocess, json, time, os, tempfile, statistics
import sys
BIN=sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "../target/release/opencode-orchestrator")
def frame(o):
    b=json.dumps(o).encode(); return b"Content-Length: %d\r\n\r\n"%len(b)+b
def read_frame(f):
    n=None
    while True:
        line=f.readline()
        if not line: return None
        line=line.strip()
        if not line: break
        if line.lower().startswith(b"content-length:"): n=int(line.split(b":")[1])
    return json.loads(f.read(n))
def one(args, ws, env):
    t0=time.perf_counter()
    p=subprocess.Popen([BIN]+args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ws)
    p.stdin.write(frame({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{},"initializationOptions":{"workspaceRoot":ws}}})); p.stdin.flush()
    while True:
        m=read_frame(p.stdout)
        if m.get("id")==1: break
    t1=time.perf_counter()
    # a round trip
    p.stdin.write(frame({"jsonrpc":"2.0","method":"initialized","params":{}}))
    rts=[]
    for i in range(200):
        t=time.perf_counter()
        p.stdin.write(frame({"jsonrpc":"2.0","id":100+i,"method":"orchestrator/stats","params":{}})); p.stdin.flush()
        while True:
            m=read_frame(p.stdout)
            if m.get("id")==100+i: break
        rts.append(time.perf_counter()-t)
    p.stdin.write(frame({"jsonrpc":"2.0","id":2,"method":"shutdown"})+frame({"jsonrpc":"2.0","method":"exit"})); p.stdin.flush()
    p.wait()
    return (t1-t0)*1000, statistics.median(rts)*1e6
root=tempfile.mkdtemp()
run=os.path.join(root,"run"); os.makedirs(run, mode=0o700)
env=dict(os.environ, XDG_RUNTIME_DIR=run, XDG_CONFIG_HOME=os.path.join(root,"home"))
res={}
for mode in ["standalone","cold","warm"]:
    starts=[];rts=[]
    for i in range(7):
        ws=os.path.join(root,f"{mode}{i}") if mode!="warm" else os.path.join(root,"warmws")
        os.makedirs(os.path.join(ws,".opencode"),exist_ok=True)
        open(os.path.join(ws,".opencode/orchestrator.json"),"w").write(json.dumps({"backend":"scripted","daemon":{"idleSeconds":30}}))
        if mode=="warm" and i==0: one(["serve"],ws,env)  # start it
        s,r=one(["serve","--standalone"] if mode=="standalone" else ["serve"], ws, env)
        starts.append(s); rts.append(r)
    res[mode]=(statistics.median(starts), statistics.median(rts))
for k,(s,r) in res.items(): print(f"{k}: initialize reply p50 {s:.1f} ms, stats round trip p50 {r:.0f} us")
subprocess.run(["pkill","-f",f"{BIN} daemon --workspace {root}"])
