"""Post-service surveys in the app: capture on check-out / resolution, the sending job, the signed
links and the public form's answers, the visit facts joined to each answer, and recovery tickets
for unhappy customers. The rules themselves live in the `surveys` library (docs/surveys.md).
"""
