"""Loads the wheel's extension in a process that embeds Python the way Ren'Py's Linux build
does: libpython linked statically into a shared `librenpython.so` (-Bsymbolic, stripped
with --strip-unneeded), loaded by a small host program; no libpython.so anywhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import renpy_cloud
from support import make_save

HOST_C = r"""
#include <Python.h>
int main(int argc, char **argv) {
    Py_Initialize();
    int rc = PyRun_SimpleString(argv[1]);
    if (Py_FinalizeEx() < 0) return 120;
    return rc == 0 ? 0 : 1;
}
"""


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    static = Path(sysconfig.get_config_var("LIBPL") or "") / (sysconfig.get_config_var("LIBRARY") or "")
    if not (sys.platform.startswith("linux") and shutil.which("gcc") and static.is_file()):
        pytest.skip("needs Linux, gcc and a static libpython (" + str(static) + ")")
    d = tmp_path_factory.mktemp("host")
    (d / "main.c").write_text(HOST_C)
    lib = d / "librenpython.so"
    subprocess.run(
        ["gcc", "-shared", "-o", str(lib), "-Wl,--whole-archive", str(static), "-Wl,--no-whole-archive",
         "-Wl,-Bsymbolic", "-ldl", "-lm", "-lpthread", "-lutil"],
        check=True,
    )
    subprocess.run(["strip", "--strip-unneeded", str(lib)], check=True)
    exe = d / "renpy_host"
    subprocess.run(
        ["gcc", str(d / "main.c"), "-I", sysconfig.get_paths()["include"], "-L", str(d), "-lrenpython",
         "-Wl,-rpath," + str(d), "-o", str(exe)],
        check=True,
    )
    linked = subprocess.run(["ldd", str(exe)], capture_output=True, text=True).stdout
    assert "libpython" not in linked, linked
    return exe


def test_the_extension_loads_and_syncs_in_an_embedding_host(host, native, tmp_path):
    a = native.make("a")
    a.signup(native.user, native.password)
    (a.dir / "1-1-LT1.save").write_bytes(make_save("from the host"))
    package_dir = Path(renpy_cloud.__file__).parent.parent
    script = "\n".join([
        "import sys, json",
        # What renpy_cloud.rpy does: put the package's real folder on sys.path.
        "sys.path.insert(0, {!r})".format(str(package_dir)),
        "import renpy_cloud",
        "assert renpy_cloud.NATIVE_AVAILABLE, renpy_cloud.NATIVE_IMPORT_ERROR",
        "c = renpy_cloud.Client({!r}, 'Demo-1700000000', {!r}, profile={!r}, device_name='a')".format(
            native.url, str(a.dir), str(tmp_path / "a" / "profile.json")),
        "r = c.sync_now()",
        "assert r['ok'], r",
        "print('uploaded', json.dumps(r['report']['uploaded']))",
    ])
    done = subprocess.run([str(host), script], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONHOME=sys.base_prefix))
    assert done.returncode == 0, done.stderr
    assert 'uploaded ["1-1-LT1.save"]' in done.stdout
