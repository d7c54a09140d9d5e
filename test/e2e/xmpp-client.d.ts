/**
 * The part of `@xmpp/client` 0.14 (untyped ES module) that the end-to-end tests use to play XMPP users.
 * @see https://github.com/xmppjs/xmpp.js/tree/v0.14.0/packages/client
 */
declare module "@xmpp/client" {
  /** An ltx element, as @xmpp builds and parses them. */
  export interface Element {
    readonly name: string;
    readonly attrs: Readonly<Record<string, string | undefined>>;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getChildElements(): Element[];
    text(): string;
    toString(): string;
  }

  export type Child = Element | string;

  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: Child[]): Element;

  export interface Client {
    readonly status: string;
    readonly reconnect: { stop(): void };
    readonly iqCaller: {
      /** Sends an IQ request and resolves with the result; rejects with a StanzaError on an error reply. */
      request(stanza: Element, timeout?: number): Promise<Element>;
    };
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(element: Element): Promise<void>;
    on(event: "stanza", listener: (stanza: Element) => void): this;
    on(event: "error", listener: (error: Error) => void): this;
  }

  export function client(options: {
    readonly service: string;
    readonly domain: string;
    readonly username: string;
    readonly password: string;
    readonly resource?: string;
  }): Client;
}
