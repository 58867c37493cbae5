export declare const MAX_STDIN_VALUE: number;
export declare class ParseError extends Error {}
export declare class GoPanic extends Error {}
export declare function scanLines(text: string): { lines: string[]; tooLong: boolean };
export declare function parseSecrets(text: string): { secrets: Record<string, string>; tooLong: boolean };
export declare function readStdinValue(text: string): string;
export declare function goTrimSpace(text: string): string;
