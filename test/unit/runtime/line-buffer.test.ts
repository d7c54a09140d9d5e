import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { LineBuffer, MAX_BUFFERED_LINES } from "../../../src/runtime/line-buffer";

function sink() {
  const writes: string[] = [];
  return { writes, write: (text: string) => writes.push(text) };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("LineBuffer", () => {
  it("writes the lines of one turn of the event loop in one write, one line each", async () => {
    const out = sink();
    const buffer = new LineBuffer(out);
    buffer.write('{"event":"a"}');
    buffer.write('{"event":"b"}');
    expect(out.writes).toEqual([]);
    await turn();
    expect(out.writes).toEqual(['{"event":"a"}\n{"event":"b"}\n']);
    buffer.write('{"event":"c"}');
    await turn();
    expect(out.writes).toEqual(['{"event":"a"}\n{"event":"b"}\n', '{"event":"c"}\n']);
    buffer.close();
  });

  it("writes at once when the buffer is full, on flush, and after close", () => {
    const out = sink();
    const buffer = new LineBuffer(out);
    for (let i = 0; i < MAX_BUFFERED_LINES; i++) buffer.write(String(i));
    expect(out.writes).toHaveLength(1);
    expect(out.writes[0]?.split("\n")).toHaveLength(MAX_BUFFERED_LINES + 1);
    buffer.write("x");
    buffer.flush();
    expect(out.writes[1]).toBe("x\n");
    buffer.write("y");
    buffer.close();
    expect(out.writes[2]).toBe("y\n");
    buffer.write("after");
    expect(out.writes[3]).toBe("after\n");
  });

  it("loses nothing when the process exits with lines still gathered", () => {
    const script = `
      import { LineBuffer } from "./src/runtime/line-buffer.ts";
      const buffer = new LineBuffer();
      buffer.write('{"event":"one"}');
      buffer.write('{"event":"two"}');
      process.exit(3);
    `;
    const ran = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(ran.status).toBe(3);
    expect(ran.stdout).toBe('{"event":"one"}\n{"event":"two"}\n');
  });
});

describe("LineBuffer when the process crashes", () => {
  it("still writes the lines gathered before an uncaught exception", () => {
    const script = `
      import { LineBuffer } from "./src/runtime/line-buffer.ts";
      const buffer = new LineBuffer();
      buffer.write('{"event":"before"}');
      setTimeout(() => {
        buffer.write('{"event":"last"}');
        throw new Error("boom");
      }, 1);
    `;
    const ran = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(ran.status).toBe(1);
    expect(ran.stderr).toContain("boom");
    expect(ran.stdout).toBe('{"event":"before"}\n{"event":"last"}\n');
  });
});
