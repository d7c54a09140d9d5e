/** The platforms whose applications this resource manages, in the order the gateway's variables name them. */
export const MANAGED_PLATFORMS = ["APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "GCM"] as const;
export type ManagedPlatform = (typeof MANAGED_PLATFORMS)[number];

/** The resource's attribute (`Fn::GetAtt`) holding each platform's application ARN, "" when there is none. */
export const ARN_ATTRIBUTES: Readonly<Record<ManagedPlatform, string>> = {
  APNS: "ApnsApplicationArn",
  APNS_SANDBOX: "ApnsSandboxApplicationArn",
  APNS_VOIP: "ApnsVoipApplicationArn",
  APNS_VOIP_SANDBOX: "ApnsVoipSandboxApplicationArn",
  GCM: "FcmApplicationArn",
};

/** The gateway variable (docs/protocol.md section 8) each attribute feeds. */
export const ARN_VARIABLES: Readonly<Record<ManagedPlatform, string>> = {
  APNS: "SNS_APNS_APPLICATION_ARN",
  APNS_SANDBOX: "SNS_APNS_SANDBOX_APPLICATION_ARN",
  APNS_VOIP: "SNS_APNS_VOIP_APPLICATION_ARN",
  APNS_VOIP_SANDBOX: "SNS_APNS_VOIP_SANDBOX_APPLICATION_ARN",
  GCM: "SNS_FCM_APPLICATION_ARN",
};
