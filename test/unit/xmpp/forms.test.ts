import { describe, expect, it } from "vitest";
import {
  buildDataForm,
  firstFormValue,
  formValue,
  parseDataForm,
  parseXml,
  serialize,
  type XmlElement,
} from "../../../src/xmpp";

function parse(text: string): XmlElement {
  const result = parseXml(text);
  if (!result.ok) throw new Error(result.error.reason);
  return result.value;
}

describe("parseDataForm (XEP-0004)", () => {
  it("reads type, FORM_TYPE and every field's values, empty ones included", () => {
    const result = parseDataForm(
      parse(
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value> urn:xmpp:push:summary </value></field><field var='a'><value>1</value><value>2</value></field><field var='b'><value/></field><field var='c'/><field type='fixed'><value>ignored</value></field></x>",
      ),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.type).toBe("submit");
    expect(result.value.formType).toBe("urn:xmpp:push:summary");
    expect(result.value.fields.get("a")).toEqual(["1", "2"]);
    expect(result.value.fields.get("b")).toEqual([""]);
    expect(result.value.fields.get("c")).toEqual([]);
    expect(formValue(result.value, "a")).toBe("1");
    expect(formValue(result.value, "b")).toBeUndefined();
    expect(firstFormValue(result.value, ["missing", "a"])).toBe("1");
  });

  it("refuses a field repeated under one var", () => {
    const result = parseDataForm(parse("<x xmlns='jabber:x:data'><field var='a'/><field var='a'/></x>"));
    expect(result).toEqual({ ok: false, error: "field a is repeated" });
  });

  it("refuses an element that is not a form", () => {
    expect(parseDataForm(parse("<x xmlns='urn:other'/>")).ok).toBe(false);
  });

  it("builds typed fields, list-multi with one value each, options and required", () => {
    const form = buildDataForm(
      "form",
      [
        { var: "features", type: "list-multi", values: ["a", "b"] },
        { var: "provider", type: "list-single", required: true, options: ["x"] },
      ],
      { title: "T" },
    );
    expect(serialize(form)).toBe(
      "<x xmlns='jabber:x:data' type='form'><title>T</title><field var='features' type='list-multi'><value>a</value><value>b</value></field><field var='provider' type='list-single'><required/><option><value>x</value></option></field></x>",
    );
  });

  it("round-trips what it builds", () => {
    const built = buildDataForm("result", [{ var: "node", type: "text-single", values: ["n<&>'\""] }]);
    const result = parseDataForm(parse(serialize(built)));
    expect(result.ok && result.value.fields.get("node")).toEqual(["n<&>'\""]);
  });
});
