/**
 * FLOOR (frozen: written before any optimisation for issue 18, never to be changed; a new floor is a new
 * file). The publish floor the gateway's `/xmpp` route is measured against: a Hono route that reads the
 * body with `c.req.text()`, runs fast-xml-parser's validator and then its parser with the project's
 * parser options (src/xmpp/xml.ts, copied here as they were when the floor was written), and answers 200
 * with a short XML result; served by @hono/node-server the same way the Node entry serves the gateway.
 * @see https://github.com/NaturalIntelligence/fast-xml-parser
 */
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { Hono } from "hono";

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  cdataPropName: "#cdata",
  ignoreDeclaration: false,
  ignorePiTags: false,
  allowBooleanAttributes: false,
  removeNSPrefix: false,
  maxNestedTags: 1024,
});

const RESULT = "<iq type='result' id='floor'/>";

export function publishFloorApp(): Hono {
  const app = new Hono();
  app.post("/xmpp", async (c) => {
    const text = await c.req.text();
    if (XMLValidator.validate(text, { allowBooleanAttributes: false }) !== true) return c.text("bad", 400);
    const tree: unknown = parser.parse(text);
    if (!Array.isArray(tree)) return c.text("bad", 400);
    return c.body(RESULT, 200, { "content-type": "application/xml; charset=utf-8" });
  });
  return app;
}

/** Serves the floor on 127.0.0.1 (port 0: a free one). */
export function servePublishFloor(port = 0): Promise<{ server: ServerType; port: number }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: publishFloorApp().fetch, port, hostname: "127.0.0.1" }, (info: AddressInfo) =>
      resolve({ server, port: info.port }),
    );
  });
}
