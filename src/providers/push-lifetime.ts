import type { PushKind } from "../domain/notification";

/**
 * How long a provider may hold a push for an offline device, per sort of push: a message stays
 * useful for a day, a read-elsewhere dismissal for an hour, a call only while it may still ring.
 * Sent as `apns-expiration` (APNs) and `android.ttl` (FCM).
 * @see https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 * @see https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#androidconfig
 */
export const PUSH_LIFETIME_SECONDS = {
  alert: 86_400,
  background: 86_400,
  dismiss: 3_600,
  voip: 30,
} as const satisfies Record<PushKind, number>;
