#!/usr/bin/env python3
"""check_deploy.py - static checks of deploy/ against the built engine.

The container image, compose file, Kubernetes manifests and systemd unit cannot run here (no
container engine, no cluster), so this checks what can be checked without running them:

  * every YAML file under deploy/ parses (python3-yaml);
  * every gridstream configuration key that any of them sets - properties files (the example and the
    ConfigMap's), GRIDSTREAM_* environment variables (Dockerfile, compose, Kubernetes, systemd),
    `--set key=value` arguments - is a key of `gridstream config keys` (or kafka.*); then, for each
    place the engine is started, `gridstream config check` accepts that file with those overrides,
    which also checks values and kafka.* keys the way `run` does;
  * the HTTP port and paths agree with the engine: compose port mappings, healthchecks and
    Prometheus targets, the StatefulSet's container port, probes (/healthz liveness, /readyz
    readiness), Service and scrape annotations all use the effective metrics.port, metrics.host
    is not a loopback address in containers, and state.dir is the mounted volume;
  * the StatefulSet uses the pod name as instance.id and requests at least the memory and CPU the
    formula in statefulset.yaml derives from the ConfigMap;
  * the Dockerfile's stages are Debian 12, every apt package it names (and those of
    deploy/install-deps.sh, which its build stage runs) exists for apt (`apt-cache show`), and the
    runtime stage installs the packages that provide every shared library the binary loads;
  * `systemd-analyze verify` has nothing to say about the unit (where systemd-analyze exists).

usage: check_deploy.py --binary build/dev/gridstream [--root REPO] [--selftest]
--selftest also applies deliberate mistakes to a copy of deploy/ (a misspelled key, a wrong probe
path, ...) and fails unless the checks catch every one of them.
"""
import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    sys.exit("check_deploy: python3-yaml is missing (deploy/install-deps.sh --test installs it)")

PATH_METRICS, PATH_LIVE, PATH_READY = "/metrics", "/healthz", "/readyz"
MIB = 1 << 20
OVERHEAD_PER_THREAD = 128 * MIB  # statefulset.yaml's formula
OVERHEAD_PER_PROCESS = 128 * MIB
WORKLOAD_KINDS = ("StatefulSet", "Deployment", "DaemonSet", "Job", "CronJob", "Pod")


def clean_env():
    """The environment for the binary, without GRIDSTREAM_* variables that would leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GRIDSTREAM_")}


def parse_properties(text):
    """[(key, value, line)] as java.util.Properties (and engine/config.c) read them."""
    out, acc, start = [], "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not acc:
            start = n
            if not line or line[0] in "#!":
                continue
        cont = line.endswith("\\")
        acc += line[:-1] if cont else line
        if cont:
            continue
        m = re.match(r"([^=:\s]+)\s*[=:]?\s*(.*)$", acc)
        acc = ""
        if m:
            out.append((m.group(1), m.group(2).strip(), start))
    return out


def env_to_key(name):
    return name[len("GRIDSTREAM_"):].lower().replace("_", ".")


def placeholders(value, env=None):
    """Replaces $(VAR) (Kubernetes) and ${VAR} / ${VAR:-d} (compose) so values can be checked."""
    env = env or {}

    def k8s(m):
        v = env.get(m.group(1))
        return v if isinstance(v, str) and "$(" not in v else "placeholder-0"

    value = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", k8s, value)
    value = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[^}]*\}", "placeholder-0", value)


def cli_args(tokens):
    """(config files, [(key, value)] of --set) named in gridstream arguments."""
    configs, sets = [], []
    for i, t in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if t == "--config" and nxt:
            configs.append(nxt)
        elif t.startswith("--config="):
            configs.append(t.split("=", 1)[1])
        elif t == "--set" and nxt and "=" in nxt:
            sets.append(tuple(nxt.split("=", 1)))
    return configs, sets


def tokens_of(cmd):
    """Arguments of a compose/Kubernetes command (list or string), shell scripts split into words."""
    if cmd is None:
        return []
    parts = cmd if isinstance(cmd, list) else [cmd]
    out = []
    for p in parts:
        p = str(p)
        try:
            out += shlex.split(p) if (" " in p or "\n" in p) else [p]
        except ValueError:
            out += p.split()
    return out


_APT_CACHE = {}


def apt_known(names):
    """The subset of names that apt-cache knows as real packages (one apt-cache call: each one
    reads every package list, which takes seconds)."""
    missing = [n for n in names if n not in _APT_CACHE]
    if missing:
        r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + missing,
                           capture_output=True, text=True)
        shown = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
        for n in missing:
            _APT_CACHE[n] = n in shown
    return {n for n in names if _APT_CACHE[n]}


def apt_closure(runtime):
    """The packages runtime installs: themselves and their (pre-)dependencies, recursively."""
    key = ("closure",) + runtime
    if key not in _APT_CACHE:
        closure = set(runtime)
        if runtime:
            dep = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends",
                                  "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                                  "--no-enhances"] + list(runtime), capture_output=True, text=True)
            for line in dep.stdout.splitlines():
                m = re.match(r"\s*(?:\|?(?:Pre)?Depends:\s*)?<?([\w.+-]+)", line)
                if m:
                    closure.add(m.group(1))
        _APT_CACHE[key] = closure
    return _APT_CACHE[key]


def needed_packages(binary):
    """[(library, Debian package or None)] for every shared library the binary loads (NEEDED)."""
    key = ("needed", binary)
    if key not in _APT_CACHE:
        r = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True)
        cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
        out = []
        for lib in re.findall(r"\(NEEDED\).*\[(.+?)\]", r.stdout):
            m = re.search(rf"^\s*{re.escape(lib)} \(.*?\) => (\S+)$", cache, re.M)
            if not m:
                continue
            pkg = None
            for f in (os.path.realpath(m.group(1)), m.group(1)):
                own = subprocess.run(["dpkg", "-S", f], capture_output=True, text=True)
                if own.returncode == 0:
                    pkg = own.stdout.split(":")[0].strip()
                    break
            out.append((lib, pkg))
        _APT_CACHE[key] = out
    return _APT_CACHE[key]


def mem_bytes(q):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(q))
    if not m:
        return None
    mult = {None: 1, "k": 1000, "M": 10**6, "G": 10**9, "T": 10**12,
            "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}[m.group(2)]
    return float(m.group(1)) * mult


def cpu_cores(q):
    q = str(q)
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


class Checker:
    def __init__(self, root, binary):
        self.root = os.path.abspath(root)
        self.deploy = os.path.join(self.root, "deploy")
        self.binary = os.path.abspath(binary)
        self.errors = []
        self.notes = []
        self.keys = self.engine_keys()
        self.keys_set = []  # (key, where): every key set anywhere

    def fail(self, where, msg):
        e = f"{os.path.relpath(where, self.root) if os.path.isabs(where) else where}: {msg}"
        if e not in self.errors:  # a file read by several units is reported once
            self.errors.append(e)

    def rel(self, p):
        return os.path.relpath(p, self.root)

    # --- the engine ---------------------------------------------------------------------------
    def engine_keys(self):
        r = subprocess.run([self.binary, "config", "keys"], capture_output=True, text=True,
                           env=clean_env())
        if r.returncode != 0:
            sys.exit(f"check_deploy: '{self.binary} config keys' failed: {r.stderr.strip()}")
        keys = {}
        for line in r.stdout.splitlines():
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                keys[k] = v
        for k in ("metrics.port", "metrics.host", "state.dir", "instance.id"):
            if k not in keys:
                sys.exit(f"check_deploy: the engine has no key {k}; these checks need updating")
        return keys

    def known(self, key):
        return key in self.keys or (key.startswith("kafka.") and len(key) > len("kafka."))

    def note_key(self, key, where):
        self.keys_set.append((key, where))
        if not self.known(key):
            self.fail(where, f"sets '{key}', which is not a gridstream configuration key "
                             f"(see 'gridstream config keys')")

    def config_check(self, where, props_text, sets):
        """Runs `config check` over props_text with --set pairs; returns the effective config."""
        with tempfile.NamedTemporaryFile("w", suffix=".properties", delete=False) as f:
            f.write(props_text or "")
            path = f.name
        try:
            argv = [self.binary, "config", "check", path]
            for k, v in sets:
                argv += ["--set", f"{k}={v}"]
            r = subprocess.run(argv, capture_output=True, text=True, env=clean_env())
        finally:
            os.unlink(path)
        if r.returncode != 0:
            self.fail(where, f"'gridstream config check' refuses it (exit {r.returncode}): "
                             f"{r.stderr.strip().replace(path, 'FILE')}")
            return None
        eff = {}
        for line in r.stdout.splitlines():
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                eff[k] = v
        return eff

    def unit(self, where, props_text, props_where, env_pairs, set_pairs):
        """One place the engine starts: keys checked, then `config check`. Returns the effective
        configuration or None."""
        props = parse_properties(props_text) if props_text is not None else []
        for k, _, line in props:
            self.note_key(k, props_where.format(line=line))
        for k, _ in env_pairs:
            self.note_key(k, f"{where} (environment GRIDSTREAM_{k.upper().replace('.', '_')})")
        for k, _ in set_pairs:
            self.note_key(k, f"{where} (--set {k})")
        if not all(self.known(k) for k, *_ in props + env_pairs + set_pairs):
            return None  # reported above, by file and line
        return self.config_check(where, props_text, env_pairs + set_pairs)

    def check_http(self, where, eff, port, what):
        if eff is None:
            return
        if str(port) != eff["metrics.port"]:
            self.fail(where, f"{what} uses port {port} but metrics.port is {eff['metrics.port']}")

    def check_host(self, where, eff):
        if eff and (eff["metrics.host"].startswith("127.") or eff["metrics.host"] in ("localhost", "::1")):
            self.fail(where, f"metrics.host={eff['metrics.host']}: probes and Prometheus come from "
                             f"outside the container")

    def check_engine_paths(self):
        """The paths are fixed facts of the engine; once its HTTP code exists, it must name them."""
        srcs = glob.glob(os.path.join(self.root, "engine", "*.[ch]"))
        text = "".join(open(p, encoding="utf-8", errors="replace").read() for p in srcs)
        if "microhttpd.h" in text:
            for p in (PATH_METRICS, PATH_LIVE, PATH_READY):
                if f'"{p}"' not in text:
                    self.fail("engine/", f"the HTTP endpoint does not serve {p}, which deploy/ uses")
        else:
            self.notes.append("engine/ has no HTTP endpoint yet: paths checked against the "
                              "documented /metrics, /healthz, /readyz")

    # --- YAML ---------------------------------------------------------------------------------
    def load_yaml(self):
        docs = {}
        files = sorted(glob.glob(os.path.join(self.deploy, "**", "*.y*ml"), recursive=True))
        if not files:
            self.fail(self.deploy, "no YAML files")
        for p in files:
            try:
                with open(p, encoding="utf-8") as f:
                    docs[p] = [d for d in yaml.safe_load_all(f) if d is not None]
                if not docs[p]:
                    self.fail(p, "empty YAML file")
            except yaml.YAMLError as e:
                self.fail(p, f"does not parse: {e}")
        return docs

    # --- Dockerfile ---------------------------------------------------------------------------
    def dockerfile(self):
        path = os.path.join(self.deploy, "Dockerfile")
        text = open(path, encoding="utf-8").read()
        instr = []
        acc = ""
        for line in text.splitlines():
            if not acc and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if acc and line.lstrip().startswith("#"):
                continue
            if line.rstrip().endswith("\\"):
                acc += line.rstrip()[:-1] + " "
                continue
            acc += line
            op, _, rest = acc.strip().partition(" ")
            instr.append((op.upper(), rest.strip()))
            acc = ""
        return path, instr

    def check_dockerfile(self):
        path, instr = self.dockerfile()
        stages, copies, env, cmd, entry, expose = [], {}, [], None, None, []
        for op, rest in instr:
            if op == "FROM":
                image = rest.split()[0]
                if not re.fullmatch(r"debian:(12|bookworm)([-.][\w.-]*)?", image):
                    self.fail(path, f"stage FROM {image}: the image is built on Debian 12")
                stages.append({"image": image, "apt": [], "scripts": []})
            elif op == "RUN" and stages:
                for seg in re.split(r"&&|\|\||;|\|", rest):
                    words = seg.split()
                    if len(words) >= 2 and words[0] in ("apt-get", "apt") and "install" in words:
                        after = words[words.index("install") + 1:]
                        stages[-1]["apt"] += [w for w in after if not w.startswith("-") and "$" not in w]
                    for w in words:
                        if w.endswith("install-deps.sh"):
                            stages[-1]["scripts"].append(w)
            elif op == "COPY" and "--from" not in rest:
                parts = rest.split()
                if len(parts) == 2:
                    copies[parts[1]] = os.path.join(self.root, parts[0])
            elif op == "ENV":
                for m in re.finditer(r"(GRIDSTREAM_\w+)=(\S+)", rest):
                    env.append((env_to_key(m.group(1)), m.group(2)))
            elif op in ("CMD", "ENTRYPOINT"):
                try:
                    val = yaml.safe_load(rest) if rest.startswith("[") else shlex.split(rest)
                except yaml.YAMLError:
                    val = shlex.split(rest)
                if op == "CMD":
                    cmd = val
                else:
                    entry = val
            elif op == "EXPOSE":
                expose += [p.split("/")[0] for p in rest.split()]
        if not stages:
            self.fail(path, "no FROM")
            return {}
        if len(stages) < 2:
            self.fail(path, "not a multi-stage build")
        if not entry or not str(entry[0]).endswith("gridstream"):
            self.fail(path, "the entry point is not the gridstream binary")
        configs, sets = cli_args([str(t) for t in (cmd or [])])
        props, props_where = None, None
        if configs:
            src = copies.get(configs[-1])
            if not src or not os.path.isfile(src):
                self.fail(path, f"CMD reads {configs[-1]}, which no COPY puts in the image")
            else:
                props, props_where = open(src, encoding="utf-8").read(), self.rel(src) + ":{line}"
        eff = self.unit(f"{self.rel(path)} (default CMD)", props, props_where, env, sets)
        if eff and eff["metrics.port"] not in expose:
            self.fail(path, f"EXPOSE {' '.join(expose) or '(none)'} lacks metrics.port {eff['metrics.port']}")
        self.check_host(path, eff)
        self.dockerfile_copies = copies
        self.check_apt(path, stages)
        return stages

    def install_deps_packages(self):
        text = open(os.path.join(self.deploy, "install-deps.sh"), encoding="utf-8").read()
        text = re.sub(r"#[^\n]*", "", text)
        pkgs = []
        for m in re.finditer(r"pkgs\+?=\(([^)]*)\)", text):
            pkgs += m.group(1).split()
        return pkgs

    def check_apt(self, path, stages):
        lists = glob.glob("/var/lib/apt/lists/*_Packages*")
        if not shutil.which("apt-cache") or not lists:
            self.fail(path, "cannot check apt packages: apt has no package lists here "
                            "(run 'apt-get update' once as root)")
            return
        names = []
        for i, st in enumerate(stages):
            names += [(p, f"stage {i} ({st['image']})") for p in st["apt"]]
            if st["scripts"]:
                names += [(p, "deploy/install-deps.sh") for p in self.install_deps_packages()]
        found = apt_known(sorted({p for p, _ in names}))
        reported = set()
        for p, where in names:
            if p not in found and p not in reported:
                reported.add(p)
                self.fail(path, f"apt package '{p}' ({where}) does not exist in Debian's lists")
        self.check_runtime_libs(path, stages[-1]["apt"])

    def check_runtime_libs(self, path, runtime):
        """Every shared library the binary loads comes from a runtime package or its dependencies."""
        if not (shutil.which("readelf") and shutil.which("dpkg") and shutil.which("ldconfig")):
            self.notes.append("readelf/dpkg/ldconfig missing: runtime libraries not checked")
            return
        closure = apt_closure(tuple(sorted(runtime)))
        for lib, pkg in needed_packages(self.binary):
            if re.match(r"lib[a-z]*san\.so", lib):
                continue  # a sanitizer build's runtime; the image is a release build
            if pkg is None:
                self.notes.append(f"{lib}: no Debian package owns it here, not checked")
                continue
            if pkg not in closure:
                self.fail(path, f"the binary loads {lib} (package {pkg}), which the runtime stage "
                                f"does not install")

    # --- compose ------------------------------------------------------------------------------
    def check_compose(self, docs):
        path = os.path.join(self.deploy, "docker-compose.yml")
        if path not in docs or not docs[path]:
            self.fail(path, "missing")
            return
        comp = docs[path][0]
        services = comp.get("services") or {}
        engines = {}
        for name, svc in services.items():
            image = str(svc.get("image", ""))
            build = svc.get("build") or {}
            if not (image.startswith("gridstream") or (isinstance(build, dict) and
                                                       str(build.get("dockerfile", "")).endswith("deploy/Dockerfile"))):
                continue
            where = f"{self.rel(path)} service {name}"
            envs = svc.get("environment") or {}
            if isinstance(envs, list):
                envs = dict(e.split("=", 1) if "=" in e else (e, "") for e in envs)
            env_pairs = [(env_to_key(k), placeholders(str(v))) for k, v in envs.items()
                         if k.startswith("GRIDSTREAM_")]
            toks = [placeholders(t) for t in tokens_of(svc.get("entrypoint")) + tokens_of(svc.get("command"))]
            configs, sets = cli_args(toks)
            mounts = {}
            for v in svc.get("volumes") or []:
                if isinstance(v, str):
                    parts = v.split(":")
                    if len(parts) >= 2:
                        mounts[parts[1]] = parts[0]
                elif isinstance(v, dict):
                    mounts[v.get("target")] = v.get("source")
            cfg = configs[-1] if configs else ("/etc/gridstream/gridstream.properties"
                                               if "run" in toks or not toks else None)
            props, props_where = None, None
            if cfg:
                src = mounts.get(cfg)
                if src and (src.startswith(".") or src.startswith("/")):
                    host = os.path.normpath(os.path.join(os.path.dirname(path), src))
                    if not os.path.isfile(host):
                        self.fail(where, f"mounts {src} as {cfg}: no such file")
                        continue
                    props, props_where = open(host, encoding="utf-8").read(), self.rel(host) + ":{line}"
                elif cfg in getattr(self, "dockerfile_copies", {}):
                    host = self.dockerfile_copies[cfg]
                    props, props_where = open(host, encoding="utf-8").read(), self.rel(host) + ":{line}"
                else:
                    self.fail(where, f"reads {cfg}, which is neither mounted nor in the image")
                    continue
            eff = self.unit(where, props, props_where, env_pairs, sets)
            if "run" in toks:
                engines[name] = (svc, eff, mounts)
        if len(engines) < 3:
            self.fail(path, f"{len(engines)} gridstream instances run; the deployment has three")
        for name, (svc, eff, mounts) in engines.items():
            where = f"{self.rel(path)} service {name}"
            if not eff:
                continue
            self.check_host(where, eff)
            port = eff["metrics.port"]
            for p in svc.get("ports") or []:
                container = str(p).split(":")[-1].split("/")[0]
                self.check_http(where, eff, container, f"port mapping {p}")
            hc = " ".join(str(t) for t in (svc.get("healthcheck") or {}).get("test") or [])
            if not hc:
                self.fail(where, "no healthcheck")
            else:
                if f"/{port}" not in hc and f":{port}" not in hc:
                    self.fail(where, f"healthcheck does not use metrics.port {port}: {hc}")
                if PATH_READY not in hc and PATH_LIVE not in hc:
                    self.fail(where, f"healthcheck asks neither {PATH_READY} nor {PATH_LIVE}")
            sd = eff["state.dir"]
            if not any(t and (sd == t or sd.startswith(t.rstrip("/") + "/")) and not str(s).startswith(".")
                       for t, s in mounts.items()):
                self.fail(where, f"state.dir {sd} is not on a volume")
            if not eff["instance.id"]:
                self.fail(where, "no instance.id: several instances on one host name-hash alike")
        ids = [e["instance.id"] for _, e, _ in engines.values() if e]
        if len(ids) != len(set(ids)):
            self.fail(path, f"instance.id values repeat: {ids}")
        self.check_prometheus(docs, services, engines)

    def check_prometheus(self, docs, services, engines):
        path = os.path.join(self.deploy, "prometheus.yml")
        if path not in docs or not docs[path]:
            self.fail(path, "missing")
            return
        targets = set()
        for job in docs[path][0].get("scrape_configs") or []:
            mp = job.get("metrics_path", PATH_METRICS)
            jt = [t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []]
            if mp != PATH_METRICS and any(t.split(":")[0] in engines for t in jt):
                self.fail(path, f"job {job.get('job_name')}: metrics_path {mp}, the engine serves {PATH_METRICS}")
            targets.update(jt)
        for name, (svc, eff, _) in engines.items():
            if not eff:
                continue
            hosts = {name, str(svc.get("hostname", name))}
            want = {f"{h}:{eff['metrics.port']}" for h in hosts}
            if not want & targets:
                self.fail(path, f"no target {name}:{eff['metrics.port']} (service {name}, metrics.port)")
        for t in targets:
            host = t.split(":")[0]
            if host not in engines and host not in {str(s.get("hostname")) for s in services.values()}:
                self.fail(path, f"target {t} is no compose service")

    # --- Kubernetes ---------------------------------------------------------------------------
    def check_k8s(self, docs):
        objs = []
        for p, ds in docs.items():
            if os.sep + "k8s" + os.sep in p:
                objs += [(p, d) for d in ds if isinstance(d, dict) and "kind" in d]
        if not objs:
            self.fail(os.path.join(self.deploy, "k8s"), "no Kubernetes manifests")
            return
        cms = {d["metadata"]["name"]: (p, d) for p, d in objs if d["kind"] == "ConfigMap"}
        for name, (p, d) in cms.items():
            for key, text in (d.get("data") or {}).items():
                if key.endswith(".properties"):
                    where = f"{self.rel(p)} ConfigMap {name} {key}"
                    self.unit(where, text, where + " line {line}", [], [])
        kinds = {d["kind"] for _, d in objs}
        for k in ("StatefulSet", "Service", "ConfigMap", "PodDisruptionBudget"):
            if k not in kinds:
                self.fail(os.path.join(self.deploy, "k8s"), f"no {k}")
        for p, d in objs:
            if d["kind"] not in WORKLOAD_KINDS:
                continue
            spec = d.get("spec") or {}
            if d["kind"] == "CronJob":
                spec = spec["jobTemplate"]["spec"]
            pod = spec["template"]["spec"] if d["kind"] != "Pod" else spec
            for c in (pod.get("initContainers") or []) + (pod.get("containers") or []):
                if str(c.get("image", "")).startswith("gridstream"):
                    self.k8s_container(p, d, pod, c, cms, objs)

    def k8s_container(self, p, d, pod, c, cms, objs):
        where = f"{self.rel(p)} {d['kind']} {d['metadata']['name']} container {c['name']}"
        envmap = {}
        for e in c.get("env") or []:
            if "value" in e:
                envmap[e["name"]] = placeholders(str(e["value"]), envmap)
            elif (e.get("valueFrom") or {}).get("fieldRef"):
                envmap[e["name"]] = "$(fieldRef:" + e["valueFrom"]["fieldRef"]["fieldPath"] + ")"
            else:
                envmap[e["name"]] = "$(secret)"
        env_pairs = [(env_to_key(k), placeholders(v, envmap)) for k, v in envmap.items()
                     if k.startswith("GRIDSTREAM_")]
        toks = [placeholders(t, envmap) for t in tokens_of(c.get("command")) + tokens_of(c.get("args"))]
        configs, sets = cli_args(toks)
        props, props_where = None, None
        vols = {v["name"]: v for v in pod.get("volumes") or []}
        if configs:
            cfg = configs[-1]
            mount = next((m for m in c.get("volumeMounts") or []
                          if cfg.startswith(m["mountPath"].rstrip("/") + "/")), None)
            cmname = ((vols.get(mount["name"]) or {}).get("configMap") or {}).get("name") if mount else None
            key = cfg[len(mount["mountPath"].rstrip("/")) + 1:] if mount else None
            if not cmname or cmname not in cms or key not in (cms[cmname][1].get("data") or {}):
                self.fail(where, f"reads {cfg}, which no mounted ConfigMap provides")
                return
            props = cms[cmname][1]["data"][key]
            props_where = f"{self.rel(cms[cmname][0])} ConfigMap {cmname} {key} line {{line}}"
        eff = self.unit(where, props, props_where, env_pairs, sets)
        if "run" not in toks or not eff:
            return
        self.check_host(where, eff)
        port = eff["metrics.port"]
        ports = {str(cp.get("name")): str(cp["containerPort"]) for cp in c.get("ports") or []}
        if ports.get("metrics") != port:
            self.fail(where, f"container port 'metrics' is {ports.get('metrics')}, metrics.port is {port}")

        def probe(kind, want_path):
            pr = c.get(kind)
            if not pr:
                if kind != "startupProbe":
                    self.fail(where, f"no {kind}")
                return
            hg = pr.get("httpGet")
            if not hg:
                self.fail(where, f"{kind} is not an HTTP probe")
                return
            if hg.get("path") != want_path:
                self.fail(where, f"{kind} asks {hg.get('path')}, the engine serves it on {want_path}")
            pp = str(hg.get("port"))
            self.check_http(where, eff, ports.get(pp, pp), f"{kind} port {pp}")

        probe("livenessProbe", PATH_LIVE)
        probe("readinessProbe", PATH_READY)
        probe("startupProbe", PATH_LIVE)
        ann = d["spec"]["template"]["metadata"].get("annotations") or {}
        if "prometheus.io/port" in ann:
            self.check_http(where, eff, ann["prometheus.io/port"], "annotation prometheus.io/port")
        if ann.get("prometheus.io/path", PATH_METRICS) != PATH_METRICS:
            self.fail(where, f"prometheus.io/path is {ann['prometheus.io/path']}")
        if d["kind"] == "StatefulSet":
            self.k8s_statefulset(p, d, c, eff, envmap, ports, objs, where)

    def k8s_statefulset(self, p, d, c, eff, envmap, ports, objs, where):
        sd = eff["state.dir"]
        claims = {t["metadata"]["name"] for t in d["spec"].get("volumeClaimTemplates") or []}
        if not any(m["name"] in claims and (sd == m["mountPath"] or sd.startswith(m["mountPath"].rstrip("/") + "/"))
                   for m in c.get("volumeMounts") or []):
            self.fail(where, f"state.dir {sd} is not on a volumeClaimTemplate volume")
        raw = next((e for e in c.get("env") or [] if e["name"] == "GRIDSTREAM_INSTANCE_ID"), None)
        src = None
        if raw:
            src = ((raw.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
            m = re.fullmatch(r"\$\((\w+)\)", str(raw.get("value", "")))
            if m:
                src = envmap.get(m.group(1), "")
                src = src[len("$(fieldRef:"):-1] if src.startswith("$(fieldRef:") else None
        if src != "metadata.name":
            self.fail(where, "instance.id (GRIDSTREAM_INSTANCE_ID) is not the pod name (metadata.name)")
        # resources: the formula of statefulset.yaml
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        threads = int(eff["num.stream.threads"])
        need = int(eff["state.memory.bytes"]) + OVERHEAD_PER_THREAD * threads + OVERHEAD_PER_PROCESS
        got = mem_bytes(req.get("memory", "0"))
        if got is None or got < need:
            self.fail(where, f"memory request {req.get('memory')} is below state.memory.bytes + "
                             f"{OVERHEAD_PER_THREAD // MIB} MiB x {threads} threads + "
                             f"{OVERHEAD_PER_PROCESS // MIB} MiB = {need // MIB}Mi")
        if "memory" in lim and (mem_bytes(lim["memory"]) or 0) < (got or 0):
            self.fail(where, f"memory limit {lim['memory']} is below the request {req.get('memory')}")
        if cpu_cores(req.get("cpu", "0")) < threads:
            self.fail(where, f"cpu request {req.get('cpu')} is below num.stream.threads={threads}")
        # the headless Service and the PDB select these pods
        labels = d["spec"]["template"]["metadata"].get("labels") or {}
        svcs = [s for _, s in objs if s["kind"] == "Service" and s["metadata"]["name"] == d["spec"].get("serviceName")]
        if not svcs:
            self.fail(where, f"serviceName {d['spec'].get('serviceName')} is no Service")
        for s in svcs:
            if s["spec"].get("clusterIP") != "None":
                self.fail(where, f"Service {s['metadata']['name']} is not headless")
            if not s["spec"].get("selector") or any(labels.get(k) != v for k, v in s["spec"]["selector"].items()):
                self.fail(where, f"Service {s['metadata']['name']} does not select the pods")
            for sp in s["spec"].get("ports") or []:
                tp = str(sp.get("targetPort", sp.get("port")))
                self.check_http(where, eff, ports.get(tp, tp), f"Service port {sp.get('name')}")
        pdbs = [b for _, b in objs if b["kind"] == "PodDisruptionBudget"
                and all(labels.get(k) == v for k, v in (b["spec"].get("selector") or {}).get("matchLabels", {}).items())]
        if not pdbs:
            self.fail(where, "no PodDisruptionBudget selects the pods")

    # --- systemd ------------------------------------------------------------------------------
    def check_systemd(self):
        path = os.path.join(self.deploy, "gridstream.service")
        text = open(path, encoding="utf-8").read()
        env, exec_tokens, state_directory = [], [], None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("Environment="):
                for a in shlex.split(line[len("Environment="):]):
                    k, _, v = a.partition("=")
                    if k.startswith("GRIDSTREAM_"):
                        env.append((env_to_key(k), v))
            elif line.startswith("ExecStart="):
                exec_tokens = shlex.split(line[len("ExecStart="):].lstrip("-@:+!"))
            elif line.startswith("StateDirectory="):
                state_directory = "/var/lib/" + line.split("=", 1)[1].split()[0]
        if not exec_tokens or not exec_tokens[0].endswith("/gridstream") or "run" not in exec_tokens:
            self.fail(path, "ExecStart does not run `gridstream run`")
            return
        configs, sets = cli_args(exec_tokens)
        props, props_where = None, None
        if configs:  # installed from deploy/ (the unit's header says so)
            local = os.path.join(self.deploy, os.path.basename(configs[-1]))
            if not os.path.isfile(local):
                self.fail(path, f"reads {configs[-1]}; deploy/ has no {os.path.basename(configs[-1])}")
                return
            props, props_where = open(local, encoding="utf-8").read(), self.rel(local) + ":{line}"
        eff = self.unit(self.rel(path), props, props_where, env, sets)
        if eff and state_directory and eff["state.dir"] != state_directory:
            self.fail(path, f"state.dir {eff['state.dir']} is not the StateDirectory {state_directory}")
        if shutil.which("systemd-analyze"):
            with tempfile.TemporaryDirectory() as tmp:
                unit = os.path.join(tmp, "gridstream.service")
                with open(unit, "w") as f:
                    f.write(text.replace(exec_tokens[0], self.binary))
                r = subprocess.run(["systemd-analyze", "verify", "--man=no", unit],
                                   capture_output=True, text=True, timeout=60)
                out = (r.stdout + r.stderr).strip()
                if r.returncode != 0 or out:
                    self.fail(path, f"systemd-analyze verify: {out.replace(tmp + '/', '')}")
        else:
            self.notes.append("systemd-analyze missing: the unit's syntax is not verified")

    def run(self):
        self.check_engine_paths()
        docs = self.load_yaml()
        self.check_dockerfile()
        self.check_compose(docs)
        self.check_k8s(docs)
        self.check_systemd()
        return self.errors


def selftest(root, binary):
    """Each deliberate mistake must be caught, by a message containing the expected words."""
    mistakes = [
        ("misspelled key in the example properties", "deploy/gridstream.properties",
         "commit.interval.ms=100", "commit.intervall.ms=100", "commit.intervall.ms"),
        ("misspelled key in the ConfigMap", "deploy/k8s/configmap.yaml",
         "    idle.timeout.ms=30000", "    idle.timout.ms=30000", "idle.timout.ms"),
        ("bad value in the ConfigMap", "deploy/k8s/configmap.yaml",
         "processing.guarantee=exactly_once", "processing.guarantee=exactly_twice", "config check"),
        ("misspelled environment variable in compose", "deploy/docker-compose.yml",
         "GRIDSTREAM_INSTANCE_ID: gridstream-2", "GRIDSTREAM_INSTANCEID: gridstream-2", "instanceid"),
        ("unknown kafka.* key", "deploy/k8s/configmap.yaml",
         "kafka.session.timeout.ms=45000", "kafka.session.timeout=45000", "config check"),
        ("readiness probe on the liveness path", "deploy/k8s/statefulset.yaml",
         "path: /readyz", "path: /healthz", "readinessProbe"),
        ("container port differs from metrics.port", "deploy/k8s/statefulset.yaml",
         "containerPort: 9464", "containerPort: 9465", "metrics.port"),
        ("Prometheus target on the wrong port", "deploy/prometheus.yml",
         "gridstream-2:9464", "gridstream-2:9999", "gridstream-2"),
        ("metrics.port changed without the compose healthcheck", "deploy/gridstream.properties",
         "metrics.port=9464", "metrics.port=9500", "9500"),
        ("apt package that does not exist", "deploy/Dockerfile",
         "libmicrohttpd12", "libmicrohttpd99", "libmicrohttpd99"),
        ("runtime stage without a library the binary loads", "deploy/Dockerfile",
         "librdkafka1 ", "", "librdkafka"),
        ("memory request below the formula", "deploy/k8s/statefulset.yaml",
         "memory: 640Mi", "memory: 300Mi", "memory request"),
        ("YAML that does not parse", "deploy/k8s/pdb.yaml",
         "maxUnavailable: 1", "maxUnavailable: [1", "does not parse"),
        ("misspelled systemd directive", "deploy/gridstream.service",
         "RestartSec=5s", "RestartSecs=5s", "systemd-analyze"),
        ("instance.id not the pod name", "deploy/k8s/statefulset.yaml",
         "fieldPath: metadata.name", "fieldPath: metadata.namespace", "pod name"),
    ]
    if not shutil.which("systemd-analyze"):
        mistakes = [m for m in mistakes if m[4] != "systemd-analyze"]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for d in ("deploy", "engine"):
            shutil.copytree(os.path.join(root, d), os.path.join(tmp, d))
        for what, rel, old, new, expect in mistakes:
            p = os.path.join(tmp, rel)
            orig = open(p, encoding="utf-8").read()
            if old not in orig:
                print(f"selftest: '{old}' not found in {rel}: update the mistake '{what}'")
                failures += 1
                continue
            open(p, "w", encoding="utf-8").write(orig.replace(old, new, 1))
            errs = Checker(tmp, binary).run()
            open(p, "w", encoding="utf-8").write(orig)
            hit = [e for e in errs if expect.lower() in e.lower()]
            status = "caught" if hit else "MISSED"
            print(f"selftest: {what}: {status}" + (f" - {hit[0]}" if hit else f" (errors: {errs})"))
            failures += 0 if hit else 1
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True, help="the built gridstream binary")
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args()
    c = Checker(a.root, a.binary)
    errors = c.run()
    for n in c.notes:
        print(f"note: {n}")
    keys = sorted({k for k, _ in c.keys_set})
    print(f"check_deploy: {len(c.keys_set)} settings of {len(keys)} keys checked: {' '.join(keys)}")
    for e in errors:
        print(f"FAIL {e}")
    failed = len(errors)
    if a.selftest:
        failed += selftest(os.path.abspath(a.root), a.binary)
    print(f"check_deploy: {'ok' if not failed else f'{failed} problem(s)'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
