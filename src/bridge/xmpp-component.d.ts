/**
 * The part of `@xmpp/component` 0.13 (untyped CommonJS) that the bridge uses.
 * @see https://github.com/xmppjs/xmpp.js/tree/v0.13.1/packages/component
 */
declare module "@xmpp/component" {
  /** An element as @xmpp's stream parser hands it over (an ltx Element). */
  export interface XmppElement {
    readonly name: string;
    readonly attrs: Readonly<Record<string, string | undefined>>;
    /** Serializes the element and its children (ltx's serializer). */
    toString(): string;
  }

  /** The connection's life cycle, as emitted on `status`. */
  export type XmppStatus =
    | "offline"
    | "connecting"
    | "connect"
    | "opening"
    | "open"
    | "online"
    | "closing"
    | "close"
    | "disconnecting"
    | "disconnect";

  export interface XmppComponent {
    readonly status: XmppStatus;
    /** The built-in fixed-delay reconnect; the bridge stops it and reconnects with its own back-off. */
    readonly reconnect: { stop(): void };
    /** Opens the socket. */
    connect(service: string): Promise<void>;
    /** Opens the stream; the component then authenticates with the handshake of XEP-0114. */
    open(options: { readonly domain: string }): Promise<unknown>;
    /** Closes the stream (waiting briefly for the server's close) and the socket. */
    stop(): Promise<unknown>;
    /** Closes the socket. */
    disconnect(timeout?: number): Promise<void>;
    /** Writes raw text to the stream. */
    write(text: string): Promise<void>;
    on(event: "stanza", listener: (stanza: XmppElement) => void): this;
    on(event: "status", listener: (status: XmppStatus) => void): this;
    on(event: "error", listener: (error: Error) => void): this;
    removeAllListeners(event: "element"): this;
  }

  export function component(options: {
    readonly service: string;
    readonly domain: string;
    readonly password: string;
  }): XmppComponent;
}
