"""Runs inside a sandbox and reports what it can see of its own confinement as
one JSON object on stdout. The abuse suite compares it with what was asked."""
import json
import os
import resource


def status_field(name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return None


def interfaces():
    names = []
    try:
        with open("/proc/net/dev") as f:
            for line in f.readlines()[2:]:
                names.append(line.split(":", 1)[0].strip())
    except OSError:
        pass
    return sorted(names)


report = {
    "uid": os.getuid(),
    "gid": os.getgid(),
    "euid": os.geteuid(),
    "no_new_privs": status_field("NoNewPrivs"),
    "cap_eff": status_field("CapEff"),
    "cap_bnd": status_field("CapBnd"),
    "seccomp": status_field("Seccomp"),
    "rlimit_as": resource.getrlimit(resource.RLIMIT_AS)[1],
    "rlimit_cpu": resource.getrlimit(resource.RLIMIT_CPU)[1],
    "rlimit_fsize": resource.getrlimit(resource.RLIMIT_FSIZE)[1],
    "rlimit_nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
    "rlimit_core": resource.getrlimit(resource.RLIMIT_CORE)[1],
    "interfaces": interfaces(),
    "pid": os.getpid(),
    "visible_pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "env": sorted(os.environ),
}
print(json.dumps(report))
