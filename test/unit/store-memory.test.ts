import { MemoryRegistrationStore } from "../../src/store";
import { describeStoreContract } from "../shared/store-contract";

describeStoreContract("memory", () => new MemoryRegistrationStore());
