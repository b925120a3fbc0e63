// Web-platform globals that exist in Node, workers and browsers alike, declared for the isomorphic
// core (which builds with neither DOM nor Node types). Only what the core uses is declared.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
