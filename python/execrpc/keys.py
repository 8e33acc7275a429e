"""execrpc.keys: key material as core/keys.c derives it (docs/design.md
section 3).

- directional keys from a master secret: `kdf` "none" (the master signs
  every direction; a master over 64 bytes is replaced by its SHA-256, as
  HMAC does) or "hkdf_sha256" (key[dir] = HKDF-SHA256(salt "execrpc/v1",
  master, info "execrpc/v1 key " || label, 32 bytes));
- the per-endpoint keys of a supervised worker (endpoint_keys());
- a static secret file, with the checks of xr_keys_load_file().

Nothing here logs, prints or puts key bytes into an exception message.
"""
import hashlib
import hmac
import os
import stat
import struct

WEB_TO_EXEC = b"web->exec"
EXEC_TO_WEB = b"exec->web"
CONTROL = b"control"
LABELS = (WEB_TO_EXEC, EXEC_TO_WEB, CONTROL)

SALT = b"execrpc/v1"
SECRET_MIN = 32
SECRET_MAX = 4096
KEY_MAX = 64
INSTANCE_ID_LEN = 16
KDFS = ("none", "hkdf_sha256")


def hkdf_sha256(ikm, salt, info, length=32):
    """HKDF-SHA256 (RFC 5869), extract then expand."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm, i = okm + t, i + 1
    return okm[:length]


class Keyset:
    """The keys of one side: one per direction label, plus the kdf.

    `keys[label]` for label in LABELS. repr() never shows key bytes."""

    __slots__ = ("kdf", "keys")

    def __init__(self, kdf, web_to_exec, exec_to_web, control):
        if kdf not in KDFS:
            raise ValueError(f"kdf {kdf!r}: expected one of {', '.join(KDFS)}")
        for k in (web_to_exec, exec_to_web, control):
            if not 1 <= len(k) <= KEY_MAX:
                raise ValueError(f"a key of {len(k)} bytes: expected 1..{KEY_MAX}")
        self.kdf = kdf
        self.keys = {WEB_TO_EXEC: bytes(web_to_exec), EXEC_TO_WEB: bytes(exec_to_web),
                     CONTROL: bytes(control)}

    def __getitem__(self, label):
        return self.keys[label]

    def __repr__(self):
        return f"<Keyset kdf={self.kdf} (keys hidden)>"


def derive(master, kdf="hkdf_sha256"):
    """The directional keyset of `master` (bytes, >= 1) under `kdf`
    (xr_keys_derive)."""
    if not master:
        raise ValueError("empty master secret")
    if kdf == "none":
        k = hashlib.sha256(master).digest() if len(master) > KEY_MAX else bytes(master)
        return Keyset(kdf, k, k, k)
    if kdf != "hkdf_sha256":
        raise ValueError(f"kdf {kdf!r}: expected one of {', '.join(KDFS)}")
    k = [hkdf_sha256(master, SALT, b"execrpc/v1 key " + label) for label in LABELS]
    return Keyset(kdf, *k)


def endpoint_keys(base, instance, group, index, generation):
    """The keys of one supervised worker (xr_keys_endpoint, design.md s. 3):
    web->exec and exec->web of `base` bound to the supervisor `instance`
    (16 bytes), `group` (str, 1..255 bytes), `index` and `generation`
    (u32); control passes through."""
    g = group.encode() if isinstance(group, str) else bytes(group)
    if len(instance) != INSTANCE_ID_LEN:
        raise ValueError(f"instance of {len(instance)} bytes: expected {INSTANCE_ID_LEN}")
    if not 1 <= len(g) <= 255:
        raise ValueError(f"group of {len(g)} bytes: expected 1..255")
    out = []
    for label in (WEB_TO_EXEC, EXEC_TO_WEB):
        info = (b"execrpc/v1 endpoint " + label + b"\x00" + bytes(instance)
                + bytes([len(g)]) + g + struct.pack(">II", index, generation))
        out.append(hkdf_sha256(base[label], SALT, info))
    return Keyset(base.kdf, out[0], out[1], base[CONTROL])


def load_secret_file(path):
    """A static secret as xr_keys_load_file() reads it: not a symlink, a
    regular file owned by us or root with no group/other permission bit,
    one trailing "\\n" or "\\r\\n" stripped, 32..4096 bytes. Raises
    ValueError naming the path and the reason (never the content)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"secret_file {path}: not a regular file")
        if st.st_uid not in (os.geteuid(), 0):
            raise ValueError(f"secret_file {path}: owned by another user")
        if st.st_mode & 0o077:
            raise ValueError(f"secret_file {path}: group or other may access it (chmod 600)")
        data = b""
        while len(data) <= SECRET_MAX + 2:
            chunk = os.read(fd, SECRET_MAX + 3 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if len(data) < SECRET_MIN:
        raise ValueError(f"secret_file {path}: shorter than {SECRET_MIN} bytes")
    if len(data) > SECRET_MAX:
        raise ValueError(f"secret_file {path}: longer than {SECRET_MAX} bytes")
    return data
