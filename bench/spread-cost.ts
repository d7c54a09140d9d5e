/**
 * The cost of building an object from another in Node's V8, the reason the per-publish modules avoid
 * `{ ...x, key }` (test/unit/architecture/hot-path.test.ts): `node --import tsx bench/spread-cost.ts`
 * prints ns per object for each shape, 1,000,000 objects each, three rounds.
 */
const sources = Array.from({ length: 1000 }, (_, i) => ({ id: `a${i}`, from: "b", to: "c" }));

type Shape = (x: { id: string; from: string; to: string }) => { id: string };
const SHAPES: [string, Shape][] = [
  ["{ ...x }", (x) => ({ ...x })],
  ["{ ...x, type }", (x) => ({ ...x, type: "set" })],
  ["{ type, ...x }", (x) => ({ type: "set", ...x })],
  ["Object.assign({}, x, { type })", (x) => Object.assign({}, x, { type: "set" })],
  ["keys written out", (x) => ({ id: x.id, from: x.from, to: x.to, type: "set" })],
];

for (let round = 1; round <= 3; round++) {
  const row: string[] = [];
  for (const [name, shape] of SHAPES) {
    let kept = 0;
    const started = process.hrtime.bigint();
    for (let i = 0; i < 1_000_000; i++) kept += shape(sources[i % 1000] as (typeof sources)[number]).id.length;
    const ns = Number(process.hrtime.bigint() - started) / 1_000_000;
    row.push(`${name}: ${ns.toFixed(0)} ns${kept === 0 ? "!" : ""}`);
  }
  console.log(`round ${round}: ${row.join(", ")}`);
}
console.log(`Node ${process.version}, V8 ${process.versions.v8}`);
