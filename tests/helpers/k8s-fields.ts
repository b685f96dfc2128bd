/**
 * Finds fields a Kubernetes manifest has that its kind does not: the schemas' validators (and the API
 * server, which drops them with a warning) accept unknown fields, so a typo such as `readinesProbe`
 * would pass them and silently do nothing. The kinds' fields are read from the TypeScript types that
 * `kubernetes-models`, `@kubernetes-models/keda` and `@kubernetes-models/prometheus-operator` ship (generated from the same OpenAPI schemas),
 * with the TypeScript compiler's type checker.
 */
import { join } from 'node:path';
import ts from 'typescript';
import { ROOT } from './fixtures.ts';

/** apiVersion/kind → [module, interface] of the kinds the manifests use. */
export const KIND_TYPES: Record<string, [string, string]> = {
  'v1/Namespace': ['kubernetes-models/v1/Namespace', 'INamespace'],
  'v1/Service': ['kubernetes-models/v1/Service', 'IService'],
  'v1/PersistentVolumeClaim': ['kubernetes-models/v1/PersistentVolumeClaim', 'IPersistentVolumeClaim'],
  'apps/v1/Deployment': ['kubernetes-models/apps/v1/Deployment', 'IDeployment'],
  'autoscaling/v2/HorizontalPodAutoscaler': ['kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler', 'IHorizontalPodAutoscaler'],
  'policy/v1/PodDisruptionBudget': ['kubernetes-models/policy/v1/PodDisruptionBudget', 'IPodDisruptionBudget'],
  'keda.sh/v1alpha1/ScaledObject': ['@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject', 'IScaledObject'],
  'monitoring.coreos.com/v1/PodMonitor': ['@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor', 'IPodMonitor'],
};

export type FieldChecker = (kind: string, manifest: unknown) => string[];

/** Builds the checker once (a TypeScript program over the kinds' declarations: about a second). */
export function unknownFieldChecker(): FieldChecker {
  const stubPath = join(ROOT, 'tests', '__k8s_kinds__.ts');
  const entries = Object.entries(KIND_TYPES);
  const stub = [
    ...entries.map(([, [module, name]], i) => `import type { ${name} as K${i} } from '${module}';`),
    `export interface Kinds { ${entries.map(([kind], i) => `'${kind}': K${i};`).join(' ')} }`,
  ].join('\n');
  const options: ts.CompilerOptions = { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, strict: true, noEmit: true, skipLibCheck: true, types: [] };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, version, ...rest) =>
    file === stubPath ? ts.createSourceFile(file, stub, version) : getSourceFile(file, version, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => file === stubPath || fileExists(file);
  const program = ts.createProgram([stubPath], options, host);
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length) throw new Error(ts.formatDiagnostics(diagnostics, host));
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(stubPath)!;
  const kinds = checker.getDeclaredTypeOfSymbol(checker.getExportsOfModule(checker.getSymbolAtLocation(source)!).find((s) => s.name === 'Kinds')!);

  const walk = (value: unknown, type: ts.Type, path: string, problems: string[]): void => {
    if (value === null || typeof value !== 'object') return;
    const t = checker.getNonNullableType(type);
    if (t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
    if (t.isUnion()) {
      // e.g. IntOrString; an object value must fit one of the object members.
      const members = t.types.filter((m) => m.flags & ts.TypeFlags.Object);
      const fits = members.map((m) => {
        const p: string[] = [];
        walk(value, m, path, p);
        return p;
      });
      if (fits.length && !fits.some((p) => p.length === 0)) problems.push(...fits[0]!);
      return;
    }
    if (Array.isArray(value)) {
      const element = checker.isArrayType(t) ? checker.getTypeArguments(t as ts.TypeReference)[0] : t.getNumberIndexType();
      if (element) value.forEach((v, i) => walk(v, element, `${path}[${i}]`, problems));
      return;
    }
    const anyKey = t.getStringIndexType();
    for (const [key, v] of Object.entries(value)) {
      const prop = t.getProperty(key);
      if (prop) walk(v, checker.getTypeOfSymbol(prop), `${path}.${key}`, problems);
      else if (anyKey) walk(v, anyKey, `${path}.${key}`, problems);
      else problems.push(`${path}.${key}`);
    }
  };

  return (kind, manifest) => {
    const prop = kinds.getProperty(kind);
    if (!prop) return [`no type known for ${kind}`];
    const problems: string[] = [];
    walk(manifest, checker.getTypeOfSymbol(prop), '', problems);
    return problems.map((p) => p.replace(/^\./, ''));
  };
}
