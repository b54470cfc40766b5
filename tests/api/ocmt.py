"""ocmt.py: an independent reader of ocmt-group-vault v1 exports: Argon2id
from the system's libargon2 and AES-256-GCM from the system's libcrypto,
through ctypes. It shares no code with groupvaultd. It also seals such
exports (encrypt_v1), for the tests that import them."""
import base64
import ctypes
import ctypes.util
import json
import os

_argon2 = ctypes.CDLL(ctypes.util.find_library("argon2") or "libargon2.so.1")
_crypto = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")
_crypto.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
_crypto.EVP_aes_256_gcm.restype = ctypes.c_void_p
_crypto.EVP_CIPHER_CTX_free.argtypes = [ctypes.c_void_p]
for fn in ("EVP_DecryptInit_ex", "EVP_DecryptUpdate", "EVP_DecryptFinal_ex",
           "EVP_EncryptInit_ex", "EVP_EncryptUpdate", "EVP_EncryptFinal_ex",
           "EVP_CIPHER_CTX_ctrl"):
    getattr(_crypto, fn).argtypes = None
EVP_CTRL_GCM_SET_TAG = 0x11
EVP_CTRL_GCM_GET_TAG = 0x10


def argon2id(password, salt, m, t, p, outlen=32):
    out = ctypes.create_string_buffer(outlen)
    rc = _argon2.argon2id_hash_raw(ctypes.c_uint32(t), ctypes.c_uint32(m), ctypes.c_uint32(p),
                                   password, ctypes.c_size_t(len(password)), salt,
                                   ctypes.c_size_t(len(salt)), out, ctypes.c_size_t(outlen))
    assert rc == 0, rc
    return out.raw


def gcm_decrypt(key, nonce, ct, tag, aad=b""):
    ctx = ctypes.c_void_p(_crypto.EVP_CIPHER_CTX_new())
    try:
        assert _crypto.EVP_DecryptInit_ex(ctx, ctypes.c_void_p(_crypto.EVP_aes_256_gcm()), None,
                                          key, nonce) == 1
        out = ctypes.create_string_buffer(len(ct) + 16)
        n = ctypes.c_int(0)
        if aad:
            assert _crypto.EVP_DecryptUpdate(ctx, None, ctypes.byref(n), aad,
                                             ctypes.c_int(len(aad)))
        assert _crypto.EVP_DecryptUpdate(ctx, out, ctypes.byref(n), ct, ctypes.c_int(len(ct)))
        got = n.value
        assert _crypto.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16,
                                           ctypes.create_string_buffer(tag, 16)) == 1
        if _crypto.EVP_DecryptFinal_ex(ctx, ctypes.byref(out, got), ctypes.byref(n)) != 1:
            raise ValueError("GCM tag mismatch")
        return out.raw[:got]
    finally:
        _crypto.EVP_CIPHER_CTX_free(ctx)


def decrypt_v1(vault, password):
    """Decrypts an ocmt-v1 vault object the way the original service does
    (always m=65536, t=3, p=4). Returns (plaintext bytes, derived key)."""
    assert vault["format"] == "ocmt-group-vault" and vault["version"] == 1
    salt = base64.b64decode(vault["kdf"]["salt"])
    key = argon2id(password.encode(), salt, 65536, 3, 4)
    enc = vault["encryption"]
    pt = gcm_decrypt(key, base64.b64decode(enc["nonce"]), base64.b64decode(vault["ciphertext"]),
                     base64.b64decode(enc["tag"]))
    return pt, key


def load_plain(vault, password):
    return json.loads(decrypt_v1(vault, password)[0])


def gcm_encrypt(key, nonce, pt):
    """AES-256-GCM as the original seals: (ciphertext, 16-byte tag)."""
    ctx = ctypes.c_void_p(_crypto.EVP_CIPHER_CTX_new())
    try:
        assert _crypto.EVP_EncryptInit_ex(ctx, ctypes.c_void_p(_crypto.EVP_aes_256_gcm()), None,
                                          key, nonce) == 1
        out = ctypes.create_string_buffer(len(pt) + 16)
        n = ctypes.c_int(0)
        assert _crypto.EVP_EncryptUpdate(ctx, out, ctypes.byref(n), pt, ctypes.c_int(len(pt)))
        got = n.value
        assert _crypto.EVP_EncryptFinal_ex(ctx, ctypes.byref(out, got), ctypes.byref(n)) == 1
        tag = ctypes.create_string_buffer(16)
        assert _crypto.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1
        return out.raw[:got + n.value], tag.raw
    finally:
        _crypto.EVP_CIPHER_CTX_free(ctx)


CHEAP_KDF = {"memory": 1024, "iterations": 1, "parallelism": 1}


def encrypt_v1(plaintext, password, kdf=CHEAP_KDF):
    """An ocmt-v1 export of arbitrary plaintext bytes, as the original lays
    it out (a cheap KDF by default, which the daemon honours until unlock)."""
    salt, nonce = os.urandom(16), os.urandom(12)
    key = argon2id(password.encode(), salt, kdf["memory"], kdf["iterations"], kdf["parallelism"])
    ct, tag = gcm_encrypt(key, nonce, plaintext)
    b64 = lambda b: base64.b64encode(b).decode()
    return {"vault": {"version": 1, "format": "ocmt-group-vault",
                      "created": "2026-11-28T10:37:58.014Z", "updated": "2026-11-28T10:37:58.014Z",
                      "kdf": dict(algorithm="argon2id", version=19, salt=b64(salt), **kdf),
                      "encryption": {"algorithm": "aes-256-gcm", "nonce": b64(nonce),
                                     "tag": b64(tag)},
                      "ciphertext": b64(ct)}}
