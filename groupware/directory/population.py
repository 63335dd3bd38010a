# SPDX-License-Identifier: GPL-3.0-or-later
"""The population data of the synthetic académie: first names, surnames, patrons of établissements, cities per
département, subjects and titles (used by :mod:`groupware.directory.generate`)."""

from __future__ import annotations

import re

from groupware.directory import schema

__all__ = [
    "CITIES",
    "COLLEGE_SUBJECTS",
    "DEPARTEMENT_WEIGHTS",
    "FEMALE",
    "FEMININE",
    "KINDS",
    "LP_SUBJECTS",
    "LYCEE_DIRECTION",
    "LYCEE_SUBJECTS",
    "MALE",
    "PATRONS",
    "PHONE_PREFIX",
    "ROLE_DESCRIPTIONS",
    "SURNAMES",
    "UAI_LETTERS",
]


def _words(text: str, sep: str | None = None) -> list[str]:
    """The words of ``text``, ``_`` standing for a blank inside one (keeps the data tables below compact)."""
    return [word.replace("_", " ") for word in text.split(sep)]


# --- names and places ------------------------------------------------------------------------------------

FEMALE = _words(
    "Hélène Marie Nathalie Isabelle Sylvie Catherine Françoise Valérie Sandrine Christine Sophie Céline Anne "
    "Véronique Stéphanie Laurence Cécile Émilie Julie Aurélie Camille Léa Chloé Manon Zoé Anaïs Maëlle Agnès "
    "Thérèse Géraldine Élodie Mélanie Noémie Delphine Virginie Corinne Florence Brigitte Josiane Mireille "
    "Odile Bérénice Inès Clémence Margaux Océane Laëtitia Gaëlle Joëlle Danièle Frédérique Estelle Pauline "
    "Amandine Justine Solène Héloïse Capucine Maïté Rosalie Lucie"
)
MALE = _words(
    "François Jérôme Frédéric Stéphane Sébastien Éric Noël Loïc Raphaël Joël Benoît Thierry Philippe Pierre "
    "Jean Michel Alain Patrick Nicolas Christophe Laurent Olivier David Julien Guillaume Mathieu Antoine "
    "Hugo Lucas Théo Gaël Mickaël Anthony Cédric Damien Fabrice Grégory Hervé Jacques Léon Lionel Marc "
    "Mathis Maxime Pascal Rémi Rémy Romain Sylvain Thibault Vincent Yannick Bruno Clément Gérard André "
    "Félix Jordi Xavier Gaëtan José"
)
SURNAMES = _words(
    "Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel Lefèvre Leroy "
    "Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent Müller "
    "Lefebvre Faure André Mercier Blanc Guérin Boyer Garnier Chevalier François Legrand Gauthier Garcia "
    "Perrin Robin Clément Morin Nicolas Henry Roussel Mathieu Gautier Masson Marchand Duval Denis Dumont "
    "Marie Lemaire Noël Meyer Dufour Meunier Brun Blanchard Giraud Joly Rivière Lucas Brunet Gaillard "
    "Barbier Arnaud Martinez Gérard Roche Renard Schmitt Roy Leroux Colin Vidal Caron Picard Roger Fabre "
    "Aubert Lemoine Renaud Dumas Lacroix Olivier Philippe Bourgeois Pierre Benoît Rey Leclerc Payet "
    "Rolland Leclercq Guillaume Lecomte Lopez Jean Dupuy Guillot Hubert Berger Carpentier Sanchez Dupuis "
    "Moulin Louis Deschamps Huet Vasseur Perez Boucher Fleury Royer Klein Jacquet Adam Paris Poirier Marty "
    "Aubry Guyot Carré Charles Renault Charpentier Ménard Maillard Baron Bertin Bailly Hervé Schneider "
    "Fernandez Le_Goff Collet Léger Bouvier Julien Prévost Millet Perrot Daniel Le_Roux Cousin Germain "
    "Breton Besson Langlois Rémy Pelletier Lévêque Perrier Leblanc Barré Lebrun Marchal Weber Mallet "
    "Hamon Boulanger Jacob Monnier Michaud Rodriguez Guichard Gillet Étienne Grondin Poulain Tessier "
    "Chevallier Collin Chauvin Da_Silva Bouchet Gay Lemaître Bénard Maréchal Humbert Reynaud Antoine "
    "Hoarau Perret Barthélemy Cordier Pichon Lejeune Gilbert Lamy Delaunay Pasquier Carlier Laporte "
    "Sabatier Rouquette Pagès Puech Bousquet Teissier Chabert Castan Courtès Cazals Rouvière Delmas "
    "Séguier Valat Maurel Pujol Ferrer Py Bérard Mas Cros Fabrègue Azéma Sarda Estève Trouillas "
    "D'Ortoli Nguyen Benali Ferrand Aubagnac Combes Bessière"
)
PATRONS = _words(
    "Jules Ferry|Jean Jaurès|Victor Hugo|Jean Moulin|Marie Curie|Louise Michel|Jacques Prévert|Paul Valéry|"
    "Frédéric Mistral|Jean Zay|Simone Veil|Albert Camus|Joliot-Curie|Molière|Jean de La Fontaine|"
    "Antoine de Saint-Exupéry|Marcel Pagnol|George Sand|Condorcet|Voltaire|Jean Macé|Georges Brassens|"
    "Lucie Aubrac|Camille Claudel|Olympe de Gouges|Joseph Delteil|Françoise Dolto|Gaston Doumergue|"
    "Alphonse Daudet|Jean-Baptiste Dumas|Pablo Picasso|Aristide Maillol|Arago|Charles Trenet|"
    "Émile Zola|Pierre Mendès France|Germaine Tillion|Joachim du Bellay|Clémence Royer|Max Rouquette|"
    "Jean Vilar|Las Cazes|Les Garrigues|Les Oliviers|La Calandreta|Les Tilleuls|Le Lac|Pasteur",
    "|",
)
CITIES = {
    "034": _words(
        "Montpellier Béziers Sète Lunel Agde Lodève Pézenas Frontignan Castelnau-le-Lez Clermont-l'Hérault "
        "Ganges Mauguio Lattes Pérols Saint-Jean-de-Védas Bédarieux"
    ),
    "030": _words(
        "Nîmes Alès Bagnols-sur-Cèze Beaucaire Uzès Le_Vigan Vauvert Saint-Gilles Pont-Saint-Esprit "
        "Villeneuve-lès-Avignon Sommières"
    ),
    "011": _words("Carcassonne Narbonne Castelnaudary Limoux Lézignan-Corbières Quillan Port-la-Nouvelle"),
    "048": _words("Mende Marvejols Saint-Chély-d'Apcher Florac Langogne La_Canourgue"),
    "066": _words(
        "Perpignan Canet-en-Roussillon Saint-Estève Argelès-sur-Mer Céret Prades Rivesaltes Thuir Elne"
    ),
}
DEPARTEMENT_WEIGHTS = {"034": 38, "030": 27, "066": 17, "011": 13, "048": 5}
PHONE_PREFIX = {"034": "67", "030": "66", "048": "66", "011": "68", "066": "68"}

COLLEGE_SUBJECTS = _words(
    "de mathématiques|de lettres modernes|d'histoire-géographie|d'anglais|d'espagnol|"
    "d'éducation physique et sportive|de physique-chimie|"
    "de sciences de la vie et de la Terre|de technologie|d'arts plastiques|"
    "d'éducation musicale|documentaliste",
    "|",
)
LYCEE_SUBJECTS = _words(
    "de mathématiques|de lettres|d'histoire-géographie|d'anglais|d'allemand|"
    "de philosophie|de sciences économiques et sociales|de physique-chimie|"
    "de sciences de la vie et de la Terre|d'éducation physique et sportive|d'occitan|"
    "de numérique et sciences informatiques|documentaliste",
    "|",
)
LP_SUBJECTS = _words(
    "lettres-histoire|mathématiques-sciences|génie électrique|hôtellerie-restauration|vente|"
    "génie mécanique|gestion-administration",
    "|",
)
LYCEE_DIRECTION = ("Proviseur", "Proviseur adjoint", "Directeur délégué aux formations")
# kind -> (share of établissements, staff weight, direction titles, teacher titles, administrative titles)
KINDS: dict[str, tuple[int, float, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "École": (45, 0.5, ("Directeur d'école",), ("Professeur des écoles",), ("Adjoint administratif",)),
    "Collège": (
        35,
        1.6,
        ("Principal", "Principal adjoint", "Directeur adjoint de SEGPA"),
        tuple(f"Professeur {s}" for s in COLLEGE_SUBJECTS),
        ("Secrétaire de direction", "Gestionnaire", "Adjoint gestionnaire", "Secrétaire"),
    ),
    "Lycée": (
        12,
        2.2,
        LYCEE_DIRECTION,
        tuple(f"Professeur {s}" for s in LYCEE_SUBJECTS),
        ("Secrétaire de direction", "Gestionnaire", "Agent comptable", "Secrétaire de scolarité"),
    ),
    "Lycée professionnel": (
        8,
        1.5,
        LYCEE_DIRECTION,
        tuple(f"Professeur de lycée professionnel {s}" for s in LP_SUBJECTS),
        ("Secrétaire de direction", "Gestionnaire", "Secrétaire de scolarité"),
    ),
}
FEMININE = [
    (re.compile(rf"\b{m}\b"), f)
    for m, f in (
        ("Directeur", "Directrice"),
        ("Principal", "Principale"),
        ("Proviseur", "Proviseure"),
        ("Professeur", "Professeure"),
        ("adjoint", "adjointe"),
        ("Adjoint", "Adjointe"),
        ("délégué", "déléguée"),
    )
]
UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
ROLE_DESCRIPTIONS = {
    "direction": "Direction",
    "enseignants": "Enseignants",
    "administratifs": "Personnels administratifs",
    schema.ETAB_GROUP: "Personnels",
}
