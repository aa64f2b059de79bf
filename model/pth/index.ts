/** Reading and writing PyTorch `.pth` state_dicts (torch.save's zip format), with no Node APIs. */
export { readPth, PthFormatError } from './read';
export { writePth } from './write';
export { unpickle, PickleError, PickleCallable, type UnpickleOptions, type PickleBuildable, type PickleDict } from './pickle';
