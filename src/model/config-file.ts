/** Where a repository keeps its preview configuration: read by the server, named in what it shows. */
export const CONFIG_PATH = ".preview.yml";
