#!/usr/bin/env python3
"""Prints accusés de réception through a running demo server, as a person would: logs in as
the demo's administrator, then posts the first N pending acknowledgements to
/accuses/imprimer. Used to measure the server's memory after a batch of letters
(docs/PERFORMANCE.md, "Memory").

Usage: scripts/print-acknowledgements.py http://127.0.0.1:18208 [N=40]
"""
import base64
import hashlib
import hmac
import http.cookiejar
import re
import struct
import sys
import time
import urllib.parse
import urllib.request

base = sys.argv[1].rstrip('/')
count = int(sys.argv[2]) if len(sys.argv) > 2 else 40
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
opener.addheaders = [('Origin', base)]
# The demo administrator's second factor (its key is printed by `parapheur demo`).
DEMO_TOTP_KEY = 'JBSWY3DPEHPK3PXPMZXW6YTBOI2DEMZU'


def totp(key, at=None):
    counter = int((time.time() if at is None else at) // 30)
    mac = hmac.new(base64.b32decode(key), struct.pack('>Q', counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{code % 1_000_000:06d}"


login = {'email': 'nathalie.girard@montbazon.demo', 'password': 'demo-parapheur',
         'otp': totp(DEMO_TOTP_KEY)}
opener.open(base + '/connexion', urllib.parse.urlencode(login).encode())
page = opener.open(base + '/accuses').read().decode()
csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
ids = re.findall(r'name="ids" value="([^"]+)"', page)[:count]
body = urllib.parse.urlencode([('csrf', csrf)] + [('ids', i) for i in ids]).encode()
answer = opener.open(base + '/accuses/imprimer', body)
pdf = answer.read()
print(f"{len(ids)} accusés imprimés : {answer.headers.get('Content-Type')}, {len(pdf)} octets")
