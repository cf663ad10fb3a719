{
  description = "Parley: a TCP chat server and terminal client on Effect";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in {
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          # Node 20 (Effect 3 line), pnpm, and a toolchain for better-sqlite3's node-gyp build
          packages = [ pkgs.nodejs_20 pkgs.pnpm pkgs.python3 pkgs.gnumake pkgs.gcc pkgs.sqlite ];
          shellHook = ''
            export npm_config_nodedir=${pkgs.nodejs_20}
          '';
        };
      });
    };
}
