#!/usr/bin/env bash
# Re-vendors Swagger UI, the viewer of the API reference at /docs, from the npm registry:
# `functions/docs/assets/vendor/update-swagger-ui.sh 5.35.0` writes that version's bundle, its
# stylesheet and their licences into swagger-ui/ and the version into swagger-ui/README.md.
# Nothing else is taken from the package; the docs crate embeds these files (src/assets.rs).
set -euo pipefail

version=${1:?usage: $0 <swagger-ui-dist version, see: npm view swagger-ui-dist version>}
here=$(cd "$(dirname "$0")" && pwd)
out="$here/swagger-ui"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "swagger-ui-dist@$version" > /dev/null)
tar -xzf "$work/swagger-ui-dist-$version.tgz" -C "$work"
package="$work/package"
license=$(node -p "require('$package/package.json').license")

mkdir -p "$out"
for file in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE; do
  cp "$package/$file" "$out/$file"
done
# The source maps are not vendored, so the stylesheet does not point at one.
sed -i '/^\/\*# sourceMappingURL=.*\*\/$/d' "$out/swagger-ui.css"

cat > "$out/README.md" <<README
Swagger UI for the API reference at \`/docs\`: npm package \`swagger-ui-dist@$version\`
(licence $license, see LICENSE and NOTICE; the bundled libraries' notices are in
swagger-ui-bundle.js.LICENSE.txt), vendored by \`../update-swagger-ui.sh $version\`.
README
echo "swagger-ui-dist $version vendored into $out"
