// Shorter values would turn ordinary words and numbers in build logs into "***".
const MIN_LENGTH = 4;

export class Redactor {
  private readonly secrets = new Set<string>();

  constructor(secrets: string[] = []) {
    for (const secret of secrets) this.add(secret);
  }

  add(secret: string): void {
    this.remember(secret);
    // Output is handled line by line, so a multi-line secret (a PEM key, say) never
    // appears whole in one line: each of its lines must be hidden on its own.
    if (/[\r\n]/.test(secret)) {
      for (const line of secret.split(/\r?\n/)) this.remember(line.trim());
    }
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so a secret containing another is replaced whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join("***");
    }
    return out;
  }

  private remember(value: string): void {
    if (value.length >= MIN_LENGTH) this.secrets.add(value);
  }
}
