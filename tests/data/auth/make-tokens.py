#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Regenerates the interoperability tokens of test-auth.c with PyJWT
# (an implementation independent of libjwt). Run from this folder with
# Debian's python3 (python3-jwt).
import jwt

claims = {
    "sub": "user_456",
    "name": "Sarah Smith",
    "avatar": "https://avatar.example/sarah.png",
    "org": "org_123",
    "role": "editor",
    "iat": 1700000000,
    "exp": 4102444800,  # 2100-01-01
}
for alg, key in (("RS256", "rsa-private.pem"), ("ES256", "ec256-private.pem"),
                 ("ES384", "ec384-private.pem"), ("RS512", "rsa-private.pem")):
    with open(key) as f:
        token = jwt.encode(claims, f.read(), algorithm=alg)
    with open(alg.lower() + "-valid.jwt", "w") as f:
        f.write(token + "\n")
