// Anti-robot check of the public forms (domain::pow): finds n such that SHA-256 of
// "{challenge}:{n}" starts with as many zero bits as the challenge asks, then submits.
// Plain SHA-256, synchronous, in slices: the page stays responsive.
(function () {
  "use strict";
  var form = document.querySelector("form[data-pow]");
  if (!form) return;
  var K = [], H0 = [], W = new Int32Array(64);
  (function () { // the first 32 bits of the fractional parts of roots of primes
    var n = 2, k = 0;
    while (k < 64) {
      for (var d = 2; d * d <= n && n % d; d++);
      if (d * d > n) {
        if (k < 8) H0[k] = frac(Math.sqrt(n));
        K[k++] = frac(Math.cbrt(n));
      }
      n++;
    }
    function frac(x) { return ((x - Math.floor(x)) * 4294967296) | 0; }
  })();
  function compress(h, m, o) {
    var i, t, u, a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (i = 0; i < 16; i++) W[i] = m[o++] << 24 | m[o++] << 16 | m[o++] << 8 | m[o++];
    for (i = 16; i < 64; i++) {
      t = W[i - 15]; u = W[i - 2];
      W[i] = ((t >>> 7 | t << 25) ^ (t >>> 18 | t << 14) ^ t >>> 3) +
        ((u >>> 17 | u << 15) ^ (u >>> 19 | u << 13) ^ u >>> 10) + W[i - 7] + W[i - 16];
    }
    for (i = 0; i < 64; i++) {
      t = k + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7)) +
        (e & f ^ ~e & g) + K[i] + W[i] | 0;
      u = ((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) +
        (a & b ^ a & c ^ b & c) | 0;
      k = g; g = f; f = e; e = d + t | 0; d = c; c = b; b = a; a = t + u | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  }
  // Calls done(n) with the first n that solves the challenge.
  function solve(challenge, done) {
    var bits = Number(challenge.split(".")[3]), prefix = [], i;
    for (i = 0; i < challenge.length; i++) prefix.push(challenge.charCodeAt(i) & 255);
    prefix.push(58); // ":"
    var full = prefix.length - prefix.length % 64, mid = new Int32Array(H0);
    var bytes = new Uint8Array(prefix);
    for (i = 0; i < full; i += 64) compress(mid, bytes, i);
    var rest = prefix.slice(full), buf = new Uint8Array(128), h = new Int32Array(8), n = 0;
    function zeros() {
      for (var j = 0, z = 0; j < 8; j++, z += 32) if (h[j]) return z + Math.clz32(h[j]);
      return 256;
    }
    function step() {
      for (var end = n + 10000; n < end; n++) {
        var s = String(n), len = rest.length + s.length, blocks = len + 9 > 64 ? 2 : 1, j;
        buf.fill(0);
        buf.set(rest);
        for (j = 0; j < s.length; j++) buf[rest.length + j] = s.charCodeAt(j);
        buf[len] = 128;
        var bitLen = (full + len) * 8, last = blocks * 64;
        buf[last - 4] = bitLen >>> 24; buf[last - 3] = bitLen >>> 16;
        buf[last - 2] = bitLen >>> 8; buf[last - 1] = bitLen;
        h.set(mid);
        compress(h, buf, 0);
        if (blocks > 1) compress(h, buf, 64);
        if (zeros() >= bits) return done(n);
      }
      setTimeout(step, 0);
    }
    if (!(bits >= 0 && bits <= 64)) return done(0); // malformed: the server will say so
    step();
  }
  var challenge = form.querySelector("[name=pow-challenge]");
  var solution = form.querySelector("[name=pow-solution]");
  var status = document.getElementById("pow-statut");
  var busy = false;
  form.addEventListener("submit", function (event) {
    if (busy) { event.preventDefault(); return; }
    if (solution.value) { busy = true; return; }
    event.preventDefault();
    busy = true;
    status.textContent = "Vérification anti-robot en cours…";
    solve(challenge.value, function (n) {
      solution.value = String(n);
      status.textContent = "Vérification terminée : envoi de votre demande…";
      HTMLFormElement.prototype.submit.call(form); // even if a field is named "submit"
    });
  });
})();
