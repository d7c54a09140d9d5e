import type { ProviderId } from "../domain/registration";
import { failure, type Result, success } from "../domain/result";
import type { ProviderInfo } from "../ports/provider";
import { element } from "../xmpp/element";
import { NS } from "../xmpp/namespaces";
import type { StanzaError } from "../xmpp/stanza";
import type { XmlElement } from "../xmpp/xml";
import { commandsOf } from "./commands";

const SERVICE_FEATURES = [
  NS.push,
  NS.discoInfo,
  NS.discoItems,
  NS.commands,
  NS.ping,
  NS.tigaseEncrypt,
  NS.tigaseEncryptAesGcm,
  NS.tigaseEncryptOmemo,
] as const;

const ITEM_NOT_FOUND: StanzaError = { type: "cancel", condition: "item-not-found" };

/**
 * Answers disco#info: the push service itself (identity pubsub/push, docs/protocol.md 3.1) or one of its
 * command nodes (identity automation/command-node, XEP-0050 section 2.2).
 * @see https://xmpp.org/extensions/xep-0357.html#disco
 */
export function discoInfo(
  node: string | undefined,
  offered: readonly ProviderId[],
  catalog: readonly ProviderInfo[],
): Result<XmlElement, StanzaError> {
  if (node === undefined || node === "") {
    const offeredFeatures = catalog.filter((provider) => offered.includes(provider.id)).map((p) => p.feature);
    const features = [...SERVICE_FEATURES, ...offeredFeatures];
    return success(
      element("query", { xmlns: NS.discoInfo }, [
        element("identity", { category: "pubsub", type: "push", name: "XMPP push gateway" }),
        ...features.map((feature) => element("feature", { var: feature })),
      ]),
    );
  }
  const command = commandsOf(catalog).find((candidate) => candidate.node === node);
  if (command)
    return success(
      element("query", { xmlns: NS.discoInfo, node }, [
        element("identity", { category: "automation", type: "command-node", name: command.name }),
        element("feature", { var: NS.commands }),
        element("feature", { var: NS.dataForms }),
      ]),
    );
  if (node === NS.commands)
    return success(
      element("query", { xmlns: NS.discoInfo, node }, [
        element("identity", { category: "automation", type: "command-list", name: "Push registration commands" }),
      ]),
    );
  return failure(ITEM_NOT_FOUND);
}

/**
 * Answers disco#items: the command list for `node='http://jabber.org/protocol/commands'` (XEP-0050
 * section 2.2), echoing the node; no items otherwise.
 */
export function discoItems(
  node: string | undefined,
  serviceJid: string,
  catalog: readonly ProviderInfo[],
): Result<XmlElement, StanzaError> {
  if (node === undefined || node === "") return success(element("query", { xmlns: NS.discoItems }));
  if (node !== NS.commands) return failure(ITEM_NOT_FOUND);
  return success(
    element(
      "query",
      { xmlns: NS.discoItems, node },
      commandsOf(catalog).map((command) =>
        element("item", { jid: serviceJid, node: command.node, name: command.name }),
      ),
    ),
  );
}
