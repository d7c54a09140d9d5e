import { failure, type Result, success } from "../domain/result";
import { attribute, childElements, element, textOf } from "./element";
import { NS } from "./namespaces";
import type { XmlElement } from "./xml";

/** A parsed XEP-0004 data form: its type, FORM_TYPE and fields by `var`. */
export interface DataForm {
  readonly type: string | undefined;
  readonly formType: string | undefined;
  readonly fields: ReadonlyMap<string, readonly string[]>;
}

/** A data form, or why the element is not a usable one. */
export type DataFormResult = Result<DataForm, string>;

/**
 * Reads a `<x xmlns='jabber:x:data'>` form. A field repeated under one `var` is refused (XEP-0004
 * section 3.2: `var` is unique in a form); fields without `var` (fixed) are ignored.
 * @see https://xmpp.org/extensions/xep-0004.html#protocol-field
 */
export function parseDataForm(x: XmlElement): DataFormResult {
  if (x.name !== "x" || x.ns !== NS.dataForms) return failure("not a data form");
  const fields = new Map<string, string[]>();
  for (const field of childElements(x, "field", NS.dataForms)) {
    const name = attribute(field, "var");
    if (name === undefined) continue;
    if (fields.has(name)) return failure(`field ${name.slice(0, 40)} is repeated`);
    fields.set(
      name,
      childElements(field, "value", NS.dataForms).map((value) => textOf(value)),
    );
  }
  const formType = fields.get("FORM_TYPE")?.[0]?.trim();
  return success({ type: attribute(x, "type"), formType, fields });
}

/** The first value of a field, trimmed; undefined when the field is absent or empty. */
export function formValue(form: DataForm, name: string): string | undefined {
  const value = form.fields.get(name)?.[0]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

/** The first present value among several field names (aliases such as `device-id` / `android-id`). */
export function firstFormValue(form: DataForm, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = formValue(form, name);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** One field of a form to build. */
export interface FieldSpec {
  readonly var: string;
  readonly type?: "boolean" | "fixed" | "hidden" | "jid-single" | "list-multi" | "list-single" | "text-single";
  readonly label?: string;
  readonly required?: boolean;
  readonly values?: readonly string[];
  readonly options?: readonly string[];
}

/**
 * Builds a `<x xmlns='jabber:x:data'>` form. Multi-valued fields must be typed `list-multi`: Siskin's
 * library reads untyped fields as single-valued (docs/protocol.md 3.2).
 */
export function buildDataForm(
  type: "form" | "result" | "submit",
  fields: readonly FieldSpec[],
  texts: { title?: string; instructions?: string } = {},
): XmlElement {
  return element("x", { xmlns: NS.dataForms, type }, [
    texts.title !== undefined && element("title", {}, [texts.title]),
    texts.instructions !== undefined && element("instructions", {}, [texts.instructions]),
    ...fields.map((field) =>
      element("field", { var: field.var, type: field.type, label: field.label }, [
        field.required === true && element("required"),
        ...(field.options ?? []).map((option) => element("option", {}, [element("value", {}, [option])])),
        ...(field.values ?? []).map((value) => element("value", {}, [value])),
      ]),
    ),
  ]);
}
