// `vgpu-display/protocol`: the browser ⇄ server remote display protocol codec.
export * from './RemoteProtocol.ts';
