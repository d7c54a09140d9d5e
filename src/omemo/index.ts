export { failure, type Result, success } from "../domain/result";
export {
  AES_128_KEY_BYTES,
  decryptAes128Gcm,
  decryptAes128GcmWithoutTag,
  encryptAes128Gcm,
  GCM_IV_BYTES,
  GCM_TAG_BYTES,
} from "./aes-gcm";
export { decodeBase64, encodeBase64 } from "./base64";
export { type BudgetError, fitPushPlaintext, sealedBase64Length, sealedLengthOf } from "./budget";
export {
  type BuiltPush,
  buildPush,
  buildPushPlaintext,
  DEFAULT_OMEMO_PLACEHOLDER,
  type PlaintextError,
  type PlaintextErrorKind,
  type PlaintextOptions,
} from "./build-plaintext";
export { LARGEST_DEVICE_ID, parseOmemoDeviceId } from "./device-id";
export {
  type EnableError,
  type EnableErrorKind,
  type PushEnable,
  type PushEncryption,
  type PushEncryptionAlgorithm,
  parseEnable,
} from "./enable";
export { buildEncryptedElement, buildPriorityElement, type EncryptedElementOptions } from "./encrypted-element";
export {
  extractOmemoForDevice,
  isEmptyOmemoMessage,
  type OmemoDevice,
  type OmemoKeyMaterial,
  type OmemoSidError,
  omemoEncryptedElements,
  readOmemoForDevice,
} from "./extract";
export {
  ENCRYPTED_PUSH_FEATURES,
  isOmemoNamespace,
  JINGLE_MESSAGE_NS,
  JINGLE_RTP_NS,
  OMEMO_1_NS,
  OMEMO_2_NS,
  OMEMO_LEGACY_NS,
  OMEMO_NAMESPACES,
  type OmemoNamespace,
} from "./namespaces";
export { type OpenError, type OpenErrorKind, type OpenOptions, openPayload, openPushNotification } from "./open";
export {
  PUSH_TYPES,
  type PushPlaintext,
  type PushPriority,
  type PushType,
  serializePushPlaintext,
} from "./plaintext";
export {
  type PlaintextParseError,
  parsePushPlaintext,
  type ReceivedOmemoKeyMaterial,
  type ReceivedPushPlaintext,
} from "./read-plaintext";
export { type RandomFill, type SealedPush, type SealOptions, sealPayload } from "./seal";
export { type SealedNotification, type SealNotificationOptions, sealPushNotification } from "./seal-notification";
