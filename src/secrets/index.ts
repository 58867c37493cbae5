export { parseSecretsKey, SecretsError } from "./crypto.js";
export { SECRET_NAME, SecretStore } from "./store.js";
