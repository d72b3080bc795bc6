#!/usr/bin/env python3
"""Bootstrap, run and test Shipment Visibility against a real Odoo 18.

Only the standard library is used here, so that a fresh machine with Python 3.11+
and PostgreSQL can run ``make run`` / ``make test`` without any other step.

Where things come from:

* Odoo 18.0 source: ``$ODOO_SRC`` (a source tree holding ``odoo-bin``, or a git
  directory of one), else the cache, else a shallow clone of the official 18.0
  branch into the cache.
* Cache (outside the checkout, shared by every clone on the machine):
  ``$SHIPMENT_VISIBILITY_CACHE``, default ``~/.cache/shipment_visibility``. It holds
  the Odoo tree, a virtual environment and per-checkout addons paths.
* PostgreSQL: ``$PGHOST`` (127.0.0.1), ``$PGPORT`` (5432), role ``$SV_DB_USER``
  (``odoo``; created as a superuser when missing, because Odoo refuses ``postgres``).
"""

import argparse
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ADDON = "shipment_visibility"
REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("SHIPMENT_VISIBILITY_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / ADDON)
ODOO_CACHE = CACHE / "odoo-18.0"
VENV = CACHE / "venv"
OFFICIAL_REPO = "https://github.com/odoo/odoo.git"
PGHOST = os.environ.get("PGHOST", "127.0.0.1")
PGPORT = os.environ.get("PGPORT", "5432")
DB_USER = os.environ.get("SV_DB_USER", "odoo")
NO_SOURCE = ("No Odoo 18 source found: set ODOO_SRC to an Odoo 18.0 source tree "
             "(the folder holding odoo-bin), e.g. ODOO_SRC=~/src/odoo-18.0 make test")


def say(msg):
    print(f"[devenv] {msg}", flush=True)


def die(msg, code=2):
    print(msg, file=sys.stderr, flush=True)
    sys.exit(code)


# --------------------------------------------------------------------------- #
# Odoo source
# --------------------------------------------------------------------------- #

def _is_odoo_tree(path):
    return (path / "odoo-bin").is_file() and (path / "odoo" / "addons" / "stock_delivery").is_dir()


def _extract_from_git(git_dir, target):
    """Materialise the Odoo tree of a (bare) git directory into the cache."""
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    say(f"extracting Odoo from {git_dir} into {target}")
    archive = subprocess.Popen(
        ["git", f"--git-dir={git_dir}", "archive", "HEAD", "odoo", "odoo-bin", "requirements.txt"],
        stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(tmp)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        die(f"could not read an Odoo tree from {git_dir}")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def find_odoo():
    src = os.environ.get("ODOO_SRC")
    if src:
        path = Path(src).expanduser().resolve()
        if _is_odoo_tree(path):
            return path
        git_dir = path / ".git" if (path / ".git").exists() else path
        if (git_dir / "HEAD").exists():
            stamp = ODOO_CACHE / ".source"
            head = subprocess.run(["git", f"--git-dir={git_dir}", "rev-parse", "HEAD"],
                                  capture_output=True, text=True).stdout.strip()
            wanted = f"{git_dir}@{head}"
            if not (_is_odoo_tree(ODOO_CACHE) and stamp.exists() and stamp.read_text() == wanted):
                _extract_from_git(git_dir, ODOO_CACHE)
                stamp.write_text(wanted)
            if _is_odoo_tree(ODOO_CACHE):
                return ODOO_CACHE
        die(f"ODOO_SRC={src} is not an Odoo 18.0 source tree (no odoo-bin with odoo/addons). " + NO_SOURCE)
    if _is_odoo_tree(ODOO_CACHE):
        return ODOO_CACHE
    say("no Odoo in the cache: trying a shallow clone of the official 18.0 branch")
    tmp = ODOO_CACHE.with_name(ODOO_CACHE.name + ".clone")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    cloned = subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", "18.0",
                             OFFICIAL_REPO, str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    if cloned.returncode == 0 and _is_odoo_tree(tmp):
        shutil.rmtree(ODOO_CACHE, ignore_errors=True)
        tmp.rename(ODOO_CACHE)
        return ODOO_CACHE
    shutil.rmtree(tmp, ignore_errors=True)
    die(NO_SOURCE)


# --------------------------------------------------------------------------- #
# Virtual environment
# --------------------------------------------------------------------------- #

def _odoo_requirements(odoo):
    """Odoo's pins, adapted to what installs on Python 3.11 from PyPI today."""
    lines = []
    for line in (odoo / "requirements.txt").read_text().splitlines():
        name = line.split("#")[0].strip()
        if not name:
            continue
        # Only auth_ldap needs it, and it needs LDAP headers to build.
        if name.lower().startswith("python-ldap"):
            continue
        # 5.4.2 ships no usable distribution for 3.11 any more; 5.4.6 is API compatible.
        name = name.replace("cbor2==5.4.2", "cbor2==5.4.6")
        lines.append(name)
    # gevent (the websocket process of a prefork server) finds its plugins through the
    # pkg_resources of setuptools<70, which cannot see the normalised dist-info names of
    # newer zope releases ("The 'zope.interface' distribution was not found").
    lines += ["zope.interface<7", "zope.event<5"]
    return "\n".join(lines) + "\n"


def venv_python():
    return VENV / "bin" / "python"


def ensure_venv(odoo):
    """Odoo's pinned requirements, then ours, in the cache's virtual environment.

    The environment is rebuilt only when Python or Odoo's pins change. A change of our
    own requirements installs on top of it: a few seconds, not a rebuild, and a second
    checkout running its tests meanwhile keeps a working interpreter.
    """
    odoo_reqs = _odoo_requirements(odoo)
    ours = (REPO / "requirements.txt").read_text() + (REPO / "requirements-dev.txt").read_text()
    base_digest = hashlib.sha256((sys.version + odoo_reqs).encode()).hexdigest()
    our_digest = hashlib.sha256(ours.encode()).hexdigest()
    base_stamp, our_stamp = VENV / ".bootstrap-stamp", VENV / ".requirements-stamp"
    pip = [str(venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    constraints = CACHE / "odoo-constraints.txt"
    if not (base_stamp.exists() and base_stamp.read_text() == base_digest and venv_python().exists()):
        say(f"preparing the virtual environment in {VENV} (first run only, a few minutes)")
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        # Several pinned packages build with setup.py files that import pkg_resources.
        subprocess.run(pip + ["setuptools<70", "wheel"], check=True)
        constraints.write_text(odoo_reqs)
        subprocess.run(pip + ["--no-build-isolation", "-r", str(constraints)], check=True)
        base_stamp.write_text(base_digest)
    if our_stamp.exists() and our_stamp.read_text() == our_digest:
        return
    say("installing the addon's requirements into the virtual environment")
    subprocess.run(pip + ["-c", str(constraints), "-r", str(REPO / "requirements.txt"),
                          "-r", str(REPO / "requirements-dev.txt")], check=True)
    our_stamp.write_text(our_digest)


# --------------------------------------------------------------------------- #
# PostgreSQL and the addons path
# --------------------------------------------------------------------------- #

def _psql(sql, user="postgres", db="postgres"):
    return subprocess.run(["psql", "-h", PGHOST, "-p", PGPORT, "-U", user, "-d", db,
                           "-tAc", sql], capture_output=True, text=True)


def ensure_db_role():
    probe = _psql("select 1", user=DB_USER)
    if probe.returncode == 0:
        return
    created = _psql(f'CREATE ROLE "{DB_USER}" LOGIN SUPERUSER CREATEDB')
    if created.returncode != 0:
        die(f"PostgreSQL at {PGHOST}:{PGPORT} is not reachable as {DB_USER} and the role "
            f"could not be created: {created.stderr.strip() or probe.stderr.strip()}")


def drop_db(name):
    subprocess.run(["dropdb", "-h", PGHOST, "-p", PGPORT, "-U", DB_USER, "--if-exists", "--force", name],
                   capture_output=True)


def addons_path():
    """Odoo finds addons by folder name: expose this checkout as ``shipment_visibility``."""
    key = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
    folder = CACHE / f"addons-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / ADDON
    if not (link.is_symlink() and link.resolve() == REPO):
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(REPO)
    return folder


#: Addons that exist only for the tests (an example partner added from another addon).
TEST_ADDONS = REPO / "tests" / "addons"


def test_addons_path():
    """A folder exposing the test-only addons, added to the addons path by ``make test`` only."""
    key = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
    folder = CACHE / f"test-addons-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    for addon in sorted(TEST_ADDONS.iterdir()) if TEST_ADDONS.is_dir() else []:
        link = folder / addon.name
        if (addon / "__manifest__.py").is_file() and not (link.is_symlink() and link.resolve() == addon):
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(addon)
    return folder


def test_addon_names():
    return sorted(addon.name for addon in TEST_ADDONS.iterdir() if (addon / "__manifest__.py").is_file()) \
        if TEST_ADDONS.is_dir() else []


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def odoo_cmd(odoo, db, *extra):
    return [str(venv_python()), str(odoo / "odoo-bin"),
            "-d", db, "--db_host", PGHOST, "--db_port", PGPORT, "--db_user", DB_USER,
            "--addons-path", str(addons_path()), "--data-dir", str(CACHE / "filestore"),
            *extra]


# --------------------------------------------------------------------------- #
# Services the tests talk to, and the browser of the tours
# --------------------------------------------------------------------------- #

AMQP_HOST = os.environ.get("SV_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("SV_AMQP_PORT", "5672"))


def _reachable(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def _can_install_debian_packages():
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def _apt_install(*packages):
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL, check=False)
    return subprocess.run(["apt-get", "install", "-y", "-qq", *packages], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def _wait_for(host, port, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if _reachable(host, port):
            return True
        time.sleep(1)
    return False


def ensure_postgresql():
    if _reachable(PGHOST, PGPORT):
        return
    if PGHOST in ("127.0.0.1", "localhost") and _can_install_debian_packages():
        say(f"PostgreSQL is not answering on {PGHOST}:{PGPORT}: installing/starting it")
        if not shutil.which("pg_ctlcluster"):
            _apt_install("postgresql")
        versions = sorted(Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").is_dir() else []
        if versions:
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1].name, "main", "start"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _wait_for(PGHOST, PGPORT, 30):
            return
    die(f"PostgreSQL is not reachable on {PGHOST}:{PGPORT}: start it (or set PGHOST/PGPORT) and run again.")


def ensure_rabbitmq():
    """The fan-out tests publish to a real broker, as in production."""
    if _reachable(AMQP_HOST, AMQP_PORT):
        return
    if AMQP_HOST in ("127.0.0.1", "localhost") and _can_install_debian_packages():
        say(f"RabbitMQ is not answering on {AMQP_HOST}:{AMQP_PORT}: installing/starting it")
        if not shutil.which("rabbitmq-server"):
            _apt_install("rabbitmq-server")
        if shutil.which("rabbitmq-server"):
            subprocess.run(["rabbitmq-server", "-detached"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if _wait_for(AMQP_HOST, AMQP_PORT, 90):
                return
    die(f"RabbitMQ is not reachable on {AMQP_HOST}:{AMQP_PORT} (guest/guest): install and start rabbitmq-server "
        f"(apt-get install rabbitmq-server && rabbitmq-server -detached), or set SV_AMQP_HOST/SV_AMQP_PORT.")


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if found := shutil.which(name):
            return found
    return None


def ensure_chromium():
    """Odoo skips browser tours without Chrome; a skipped tour is a failure here, so fail early."""
    if chromium_path():
        return
    if _can_install_debian_packages():
        say("Chromium is missing: installing it from the distribution's packages (the browser tours need it)")
        if _apt_install("chromium") and chromium_path():
            return
    die("Chromium is needed by the browser tours: install it (apt-get install chromium) and run again.")


def bootstrap():
    odoo = find_odoo()
    ensure_venv(odoo)
    ensure_db_role()
    return odoo


# --------------------------------------------------------------------------- #
# Commands
# --------------------------------------------------------------------------- #

def cmd_bootstrap(_args):
    odoo = bootstrap()
    say(f"Odoo: {odoo}")
    say(f"venv: {VENV}")
    return 0


def cmd_run(args):
    ensure_postgresql()
    odoo = bootstrap()
    db = args.db
    exists = _psql(f"select 1 from pg_database where datname='{db}'", user=DB_USER).stdout.strip()
    if not exists:
        say(f"creating database {db} with Shipment Visibility and its demo data")
        subprocess.run(odoo_cmd(odoo, db, "-i", ADDON, "--stop-after-init", "--log-level=warn",
                                "--http-port", str(free_port())), check=True)
        # The admin password of a fresh Odoo database is 'admin' already.
    else:
        say(f"updating {ADDON} in existing database {db}")
        subprocess.run(odoo_cmd(odoo, db, "-u", ADDON, "--stop-after-init", "--log-level=warn",
                                "--http-port", str(free_port())), check=True)
    url = f"http://localhost:{args.port}"
    say(f"serving Odoo on {url}  (login admin / password admin)")
    say(f"start here: {url}/odoo/action-{ADDON}.action_shipment_shipment  "
        f"then Inventory > Deliveries for tracking on delivery orders")
    cmd = odoo_cmd(odoo, db, "--http-port", str(args.port), "--db-filter", f"^{db}$",
                   "--log-level=warn")
    return subprocess.call(cmd)


SUMMARY = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests")
SKIPPED = re.compile(r"\bskipped (\S+) : (.*)")


def run_odoo_tests(odoo, demo=True, test_tags=None):
    """Install the module on a fresh database with tests; return (passed, failed, skips, ok)."""
    db = f"sv_test_{os.getpid()}{'' if demo else '_nodemo'}"
    drop_db(db)
    # With demo data, the test-only addons are installed and tested too: they prove what
    # another addon can add (a partner). The second install is the module alone.
    extras = test_addon_names() if demo else []
    extra = ["-i", ",".join([ADDON, *extras]), "--stop-after-init", "--http-port", str(free_port()),
             "--log-level=warn",
             # The summary and skip lines are logged at INFO; keep everything else at WARNING.
             "--log-handler=odoo.tests.result:INFO",
             "--log-handler=odoo.addons.shipment_visibility.tests:INFO",
             "--log-handler=odoo.modules.loading:WARNING"]
    if demo:
        extra += ["--test-tags", test_tags or ",".join(f"/{name}" for name in [ADDON, *extras])]
    else:
        extra += ["--without-demo=all"]
    say(f"installing {ADDON} on fresh database {db} ({'with demo data and tests' if demo else 'without demo data'})")
    started = time.time()
    cmd = odoo_cmd(odoo, db, *extra)
    if extras:
        position = cmd.index("--addons-path") + 1
        cmd[position] = f"{cmd[position]},{test_addons_path()}"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    summary, skips, problems = None, [], []
    for line in proc.stdout:
        sys.stdout.write(line)
        if match := SUMMARY.search(line):
            summary = tuple(int(g) for g in match.groups())
        if match := SKIPPED.search(line):
            skips.append(f"{match.group(1)}: {match.group(2)}")
        # Test failures are counted from the summary; anything else at WARNING or above
        # (deprecations, access warnings, bad queries) is a problem of its own.
        if (" WARNING " in line or " ERROR " in line or " CRITICAL " in line) and \
                ".tests." not in line and "odoo.tests.result" not in line:
            problems.append(line.rstrip())
    rc = proc.wait()
    drop_db(db)
    say(f"odoo finished in {time.time() - started:.0f}s with exit code {rc}")
    return rc, summary, skips, problems


def cmd_test(args):
    ensure_postgresql()
    ensure_rabbitmq()
    if not args.pure_only:
        ensure_chromium()
    odoo = bootstrap()
    failed_total = passed_total = 0
    reasons = []

    if not args.odoo_only:
        say("pure-Python tests (pytest)")
        proc = subprocess.run([str(venv_python()), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests/pure"], cwd=REPO, text=True, capture_output=True)
        sys.stdout.write(proc.stdout + proc.stderr)
        last = (proc.stdout.strip().splitlines() or [""])[-1]
        counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|errors?|skipped)", last)}
        passed_total += counts.get("passed", 0)
        failed_total += counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
        if counts.get("skipped"):
            failed_total += counts["skipped"]
            reasons.append(f"{counts['skipped']} pure test(s) skipped")
        if proc.returncode != 0 and not failed_total:
            failed_total += 1
            reasons.append(f"pytest exited with {proc.returncode}")

    if not args.odoo_only:
        lint = subprocess.run([str(VENV / "bin" / "ruff"), "check", "."], cwd=REPO,
                              capture_output=True, text=True)
        if lint.returncode == 0:
            passed_total += 1
        else:
            sys.stdout.write(lint.stdout + lint.stderr)
            failed_total += 1
            reasons.append("ruff check found problems")

    if not args.pure_only:
        rc, summary, skips, problems = run_odoo_tests(odoo, demo=True, test_tags=args.test_tags)
        if summary is None:
            failed_total += 1
            reasons.append(f"Odoo printed no test summary (exit code {rc}): install or import failure")
        else:
            failures, errors, ran = summary
            passed = ran - failures - errors - len(skips)
            passed_total += passed
            failed_total += failures + errors
            if rc != 0 and not failures + errors:
                failed_total += 1
                reasons.append(f"odoo exited with {rc}")
            if ran == 0:
                failed_total += 1
                reasons.append("Odoo ran no test")
        if skips:
            # A skipped browser test means Chromium or websocket-client is missing: not a pass.
            failed_total += len(skips)
            reasons += [f"skipped: {s}" for s in skips]
        if problems:
            reasons += ["log: " + p for p in problems[:20]]
            failed_total += 1
            reasons.append(f"{len(problems)} warning/error log line(s) during install and tests")

        if not args.skip_nodemo:
            rc, _summary, _skips, problems = run_odoo_tests(odoo, demo=False)
            if rc == 0 and not problems:
                passed_total += 1
            else:
                failed_total += 1
                reasons.append(f"install without demo data failed (exit {rc})")
                reasons += ["log: " + p for p in problems[:20]]

    for reason in reasons:
        print(f"FAILURE REASON: {reason}")
    print(f"{passed_total} passed, {failed_total} failed")
    return 1 if failed_total or not passed_total else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("bootstrap", help="prepare Odoo, the venv and the database role")
    run = sub.add_parser("run", help="serve Odoo with the module and demo data")
    run.add_argument("--db", default=os.environ.get("SV_DB", "shipment_visibility"))
    run.add_argument("--port", type=int, default=int(os.environ.get("SV_PORT", "8069")))
    test = sub.add_parser("test", help="run the whole test suite")
    test.add_argument("--pure-only", action="store_true")
    test.add_argument("--odoo-only", action="store_true")
    test.add_argument("--skip-nodemo", action="store_true",
                      help="skip the second install on a database without demo data")
    test.add_argument("--test-tags", help="run only these Odoo tests, e.g. /shipment_visibility:TestInboxProcessor "
                                          "(while working on one part; CI runs them all)")
    args = parser.parse_args()
    handler = {"bootstrap": cmd_bootstrap, "run": cmd_run, "test": cmd_test}[args.command]
    sys.exit(handler(args))


if __name__ == "__main__":
    main()
