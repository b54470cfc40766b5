"""ocmt.py: an independent reader of ocmt-group-vault v1 exports: Argon2id
from the system's libargon2 and AES-256-GCM from the system's libcrypto,
through ctypes. It shares no code with groupvaultd."""
import base64
import ctypes
import ctypes.util
import json

_argon2 = ctypes.CDLL(ctypes.util.find_library("argon2") or "libargon2.so.1")
_crypto = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")
_crypto.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
_crypto.EVP_aes_256_gcm.restype = ctypes.c_void_p
_crypto.EVP_CIPHER_CTX_free.argtypes = [ctypes.c_void_p]
for fn in ("EVP_DecryptInit_ex", "EVP_DecryptUpdate", "EVP_DecryptFinal_ex",
           "EVP_CIPHER_CTX_ctrl"):
    getattr(_crypto, fn).argtypes = None
EVP_CTRL_GCM_SET_TAG = 0x11


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
