/**
 * @parley/protocol: wire protocol v1 of Parley (see docs/protocol.md).
 */
export * from "./Codec.ts"
export * from "./Commands.ts"
export * from "./Errors.ts"
export * from "./Fields.ts"
export * from "./Framer.ts"
export * from "./RoomCommands.ts"
export * from "./RoomFrames.ts"
export * from "./ServerFrames.ts"
