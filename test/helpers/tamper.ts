/**
 * A token one character off the real one. Replacing the tail with a fixed string would sometimes
 * leave it unchanged (when the token already ends that way), and the last base64url character of
 * a token can carry padding bits that decoding ignores; the first character always counts.
 */
export function withFirstCharacterChanged(token: string): string {
  return `${token.startsWith('A') ? 'B' : 'A'}${token.slice(1)}`;
}
