import picomatch from "picomatch";
const [segments, stars, len] = process.argv.slice(2).map(Number);
const seg = "*a".repeat(stars) + "*";
const p = Array(segments).fill(seg).join("/") + "/b";
const path = Array(segments).fill("a".repeat(len)).join("/") + "/c";
const m = picomatch(p, { dot: true, noextglob: true });
const t = Date.now();
m(path);
console.log(segments, stars, len, p.length, path.length, Date.now() - t, "ms");
