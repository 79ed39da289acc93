export { CommandClient } from './command-client';
export { CommandError, type CommandErrorCode, type CommandCounters, type CommandClientEvents } from './command-types';
export { type CommandOptions, DEFAULT_COMMAND_OPTIONS, resolveCommandOptions } from './options';
export { CommandSendIds, COMMAND_SEND_ID_MIN, COMMAND_SEND_ID_MAX, isCommandSendId } from './send-ids';
export { type AtSessionInfo } from './at-sessions';
